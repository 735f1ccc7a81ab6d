"""kcnn's torchvision layouts compute what torchvision computes, given torchvision's weights.

Runs where torchvision is installed (it is not a kcnn dependency): the weights of a randomly
initialized torchvision model (BatchNorm statistics randomized too) are copied into kcnn's
model by name and both run on the same images.
"""

import keras
import numpy as np
import pytest

import kcnn

torch = pytest.importorskip("torch")
segmentation = pytest.importorskip("torchvision.models.segmentation")


def _resnet_name(parts):
    if parts[1] in ("conv1", "bn1"):
        return "conv1_conv" if parts[1] == "conv1" else "conv1_bn"
    stage, block = int(parts[1][-1]) + 1, int(parts[2]) + 1
    if parts[3] == "downsample":
        return f"conv{stage}_block{block}_0_{'conv' if parts[4] == '0' else 'bn'}"
    return f"conv{stage}_block{block}_{parts[3][-1]}_{'conv' if parts[3].startswith('conv') else 'bn'}"


def _fcn_head(prefix, name):
    return {f"{prefix}.0": f"{name}_conv", f"{prefix}.1": f"{name}_bn", f"{prefix}.4": f"{name}_logits"}


def _deeplab_head():
    names = {f"classifier.0.convs.{i}.{j}": f"aspp_b{i}_{k}" for i in range(4) for j, k in ((0, "conv"), (1, "bn"))}
    names.update(
        {
            "classifier.0.convs.4.1": "aspp_pool_conv",
            "classifier.0.convs.4.2": "aspp_pool_bn",
            "classifier.0.project.0": "aspp_project_conv",
            "classifier.0.project.1": "aspp_project_bn",
            "classifier.1": "head_conv",
            "classifier.2": "head_bn",
            "classifier.4": "logits",
        }
    )
    return names


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fcn_resnet50", "deeplabv3_resnet50"])
def test_outputs_match_torchvision_with_its_weights(name):
    torch.manual_seed(0)
    reference = getattr(segmentation, name)(weights=None, weights_backbone=None, aux_loss=True).eval()
    heads = {**(_deeplab_head() if name.startswith("deeplab") else _fcn_head("classifier", "fcn_head"))}
    heads.update(_fcn_head("aux_classifier", "aux_head"))
    model = kcnn.create_model(name, classifier_activation=None, input_shape=(64, 96, 3))
    generator = torch.Generator().manual_seed(0)
    for module_name, module in reference.named_modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)
        if not isinstance(module, (torch.nn.Conv2d, torch.nn.BatchNorm2d)):
            continue
        parts = module_name.split(".")
        layer = model.get_layer(_resnet_name(parts) if parts[0] == "backbone" else heads[module_name])
        if isinstance(module, torch.nn.Conv2d):
            weights = [module.weight.detach().numpy().transpose(2, 3, 1, 0)]
            weights += [module.bias.detach().numpy()] if module.bias is not None else []
        else:
            weights = [
                t.detach().numpy() for t in (module.weight, module.bias, module.running_mean, module.running_var)
            ]
        layer.set_weights(weights)
    x = np.random.default_rng(0).normal(size=(2, 64, 96, 3)).astype("float32")
    with torch.no_grad():
        want = reference(torch.from_numpy(x.transpose(0, 3, 1, 2)))
    for got, key in zip(model(x, training=False), ("out", "aux")):
        expected = want[key].numpy().transpose(0, 2, 3, 1)
        # BatchNorm epsilon: kcnn's ResNet 1.001e-5 (keras.applications), torchvision 1e-5.
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), expected, atol=2e-5 * np.abs(expected).max())
