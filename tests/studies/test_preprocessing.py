import numpy as np
import pytest

from kcnn.studies import preprocessing

pytestmark = [pytest.mark.tf_only, pytest.mark.xdist_group("study_preprocessing")]


def test_zca_whitening_gives_identity_covariance_and_keeps_image_shape():
    x = np.random.default_rng(0).normal(size=(2000, 4, 4, 1)) * np.linspace(0.5, 3, 16).reshape(1, 4, 4, 1)
    white, other = preprocessing.prepare("whiten", x.astype("float32"), x[:10].astype("float32"))
    flat = white.reshape(len(white), -1)
    np.testing.assert_allclose(np.cov(flat, rowvar=False, bias=True), np.eye(16), atol=1e-3)
    assert white.shape == x.shape and other.shape == (10, 4, 4, 1)


def test_mean_and_standardize_use_the_training_statistics():
    x = np.random.default_rng(1).uniform(size=(100, 3, 3, 1)).astype("float32")
    centred, test = preprocessing.prepare("mean", x, x + 1)
    assert abs(centred.mean()) < 1e-5 and test.mean() == pytest.approx(1.0, abs=1e-4)
    standard = preprocessing.prepare("standardize", x)[0]
    assert standard.std() == pytest.approx(1.0, abs=1e-3)


def test_quick_run(tmp_path):
    result = preprocessing.run(quick=True, output_dir=tmp_path)
    accs = result["numbers"]["test_accuracy"]
    assert set(accs) == {"mean", "whiten"} and all(0.0 <= a <= 1.0 for v in accs.values() for a in v)
    assert (tmp_path / "preprocessing.png").exists()


@pytest.mark.parametrize(
    "results, verdict",
    [
        (
            {
                "scale": [0.80, 0.81, 0.80],
                "mean": [0.85, 0.86, 0.85],
                "standardize": [0.85, 0.85, 0.86],
                "whiten": [0.7] * 3,
            },
            "holds",
        ),
        (
            {
                "scale": [0.85, 0.86, 0.85],
                "mean": [0.85, 0.86, 0.85],
                "standardize": [0.90, 0.91, 0.90],
                "whiten": [0.7] * 3,
            },
            "does not hold",
        ),
        (
            {
                "scale": [0.85, 0.86, 0.85],
                "mean": [0.85, 0.86, 0.85],
                "standardize": [0.85, 0.86, 0.85],
                "whiten": [0.7] * 3,
            },
            "partly",
        ),
    ],
)
def test_the_rule(results, verdict):
    assert preprocessing.judge(results)[0] == verdict
