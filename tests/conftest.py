"""Shared fixtures: a clean Keras session and dtype policy for every test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


@pytest.fixture(autouse=True)
def _clean_keras_state():
    keras.backend.clear_session()
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


def pytest_collection_modifyitems(config, items):
    # Tests of the TensorFlow parts (data, training, export) are marked tf_only when the
    # suite runs under another Keras backend.
    for item in items:
        if keras.backend.backend() != "tensorflow" and "tf_only" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=f"needs the tensorflow backend, running {keras.backend.backend()}"))


@pytest.fixture(scope="session")
def fashion_mnist_dir():
    if not os.path.isdir(FASHION_MNIST_DIR):
        pytest.fail(f"{FASHION_MNIST_DIR} is missing: `make test` installs it (apt-get install dataset-fashion-mnist)")
    return FASHION_MNIST_DIR
