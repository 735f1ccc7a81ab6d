"""Every named preset loads, says what it reproduces beside the paper's result, and passes
the trainer's checks (registered model, dataset metadata, model/input fit) offline."""

import pytest

from kcnn.data import sources
from kcnn.training import plan, presets

pytestmark = pytest.mark.tf_only

PAPER_PRESETS = {
    "lenet5_mnist",
    "lenet5_fashion_mnist",
    "resnet20_cifar10",
    "resnet32_cifar10",
    "resnet44_cifar10",
    "resnet56_cifar10",
    "resnet110_cifar10",
    "densenet_bc100_cifar10",
    "vgg16_bn_cifar10",
    "mobilenetv2_cifar10",
    "resnet50_imagenet",
    "resnet18_fashion_mnist",
    "vgg16_fashion_mnist",
    "googlenet_fashion_mnist",
    "mobilenet_fashion_mnist",
}


def test_the_issues_presets_exist():
    assert set(presets.list_presets()) >= PAPER_PRESETS


@pytest.mark.parametrize("name", presets.list_presets())
def test_preset_is_complete_and_plans(name, monkeypatch, tmp_path):
    """Datasets this offline machine lacks (CIFAR-10, ImageNet) pass as downloadable: plan reads
    tfds' metadata and downloads nothing."""
    monkeypatch.setattr(sources, "_network_reachable", lambda timeout=3.0: True)
    config = presets.load_preset(name)
    config.model_dir = str(tmp_path / "run")
    assert config.description and config.reference
    p = plan(config)
    assert p.dataset.num_classes in (10, 1000) or (p.task == "segmentation" and p.dataset.num_classes == 11)


def test_resnet_presets_follow_the_papers_schedule():
    config = presets.load_preset("resnet56_cifar10")
    steps_per_epoch = 50_000 // config.train.batch_size
    iterations = [round(b * steps_per_epoch) for b in config.train.lr_boundaries]
    assert iterations == [32_000, 48_000] and round(config.train.epochs * steps_per_epoch, -3) == 64_000
    assert (config.train.learning_rate, config.train.momentum, config.train.l2) == (0.1, 0.9, 1e-4)
    assert config.data.augment == ["flip", "crop:4"]
