"""Grad-CAM (Selvaraju et al. 2017): where in the image the evidence for a class lies.

The class score's gradient with respect to a spatial layer's activations ``A`` is averaged
over the map to weight its channels: ``cam = ReLU(sum_k mean_ij(d y_c / d A_k,ij) A_k)``,
upsampled (bilinear) to the image and scaled to [0, 1]. ``y_c`` is the pre-softmax score:
a final softmax (the activation of the last layer, or a last ``Activation`` layer) is
skipped.

The target layer defaults to the last layer whose output still has a spatial grid larger
than 1x1 at the image's size (``conv5_block3_out`` for ResNet-50, ``block5_pool`` for
VGG, ``s4`` for LeNet-5, ...), which is the rule for every registered family; ``layer=``
overrides it. Works under TensorFlow, torch and JAX: the gradient is taken with respect to
the activation fed back into the rest of the network (:func:`kcnn.analysis.graph.run_graph`),
so nested models work too.
"""

from __future__ import annotations

import keras
import numpy as np

from kcnn.analysis.graph import find_layer, graph_of, run_graph
from kcnn.analysis.profile import profile
from kcnn.viz._plot import plt, save_figure
from kcnn.viz.features import _displayable, _first, prepare_image

__all__ = ["default_target_layer", "grad_cam", "plot_grad_cam"]


def default_target_layer(model, image_shape=None) -> str:
    """The last layer whose output is a feature map larger than 1x1 at ``image_shape`` (default: the
    model's input size, which must then be fixed)."""
    rows = profile(model, image_shape).rows
    spatial = [r.name for r in rows if len(r.output_shape) == 4 and min(r.output_shape[1:3]) > 1]
    if not spatial:
        raise ValueError(f"model {model.name!r} has no layer with a spatial output larger than 1x1 for Grad-CAM")
    return spatial[-1]


def _softmax_skipped(model) -> dict:
    """``replace_calls`` that compute the last layer without a final softmax (the logits)."""
    last = graph_of(model).outputs[0]._keras_history.operation
    softmax = keras.activations.get("softmax")
    if isinstance(last, keras.layers.Activation) and last.activation is softmax:
        return {last.name: lambda layer, x, **kwargs: x}
    if getattr(last, "activation", None) is softmax:

        def linear(layer, *args, **kwargs):
            layer.activation = keras.activations.linear
            try:
                return layer(*args, **kwargs)
            finally:
                layer.activation = softmax

        return {last.name: linear}
    return {}


def _gradient(score_of, activation):
    """d score_of(A) / d A at ``activation`` under the running backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(activation)
            score = score_of(activation)
        return tape.gradient(score, activation)
    if backend == "torch":
        import torch

        activation = activation.detach().requires_grad_(True)
        with torch.enable_grad():
            score = score_of(activation)
            return torch.autograd.grad(score, activation)[0]
    if backend == "jax":
        import jax

        return jax.grad(score_of)(activation)
    raise ValueError(f"Grad-CAM supports the tensorflow, torch and jax backends, not {backend!r}")


def grad_cam(model, image, class_index: int | None = None, layer: str | None = None, resize: bool = False) -> dict:
    """Grad-CAM of ``image`` (H, W, C) for ``class_index`` (default: the predicted class).

    Returns ``{"heatmap": (H, W) array in [0, 1], "layer": target path, "class_index": int,
    "score": the class's pre-softmax score, "cam": the map at the layer's resolution}``.
    """
    x = prepare_image(model, image, resize)
    target = find_layer(model, layer)[0] if layer is not None else default_target_layer(model, x.shape[1:])
    replace = _softmax_skipped(model)
    outputs, captured = run_graph(model, x, capture=[target], replace_calls=replace)
    scores = keras.ops.convert_to_numpy(_first(outputs))[0]
    if class_index is None:
        class_index = int(np.argmax(scores))
    if not 0 <= class_index < scores.shape[-1]:
        raise ValueError(f"class_index {class_index} out of range: model {model.name!r} has {scores.shape[-1]} classes")
    activation = _first(captured[target])
    if len(activation.shape) != 4:
        raise ValueError(f"layer {target!r}: output shape {tuple(activation.shape)} has no spatial grid for Grad-CAM")

    def score_of(a):
        out, _ = run_graph(model, x, overrides={target: a}, replace_calls=replace)
        return keras.ops.sum(_first(out)[:, class_index])

    grads = keras.ops.convert_to_numpy(_gradient(score_of, activation))[0]
    a = keras.ops.convert_to_numpy(activation)[0]
    cam = np.maximum((a * grads.mean(axis=(0, 1))).sum(axis=-1), 0.0)
    heatmap = keras.ops.convert_to_numpy(
        keras.ops.image.resize(cam[..., None].astype(np.float32), x.shape[1:3], interpolation="bilinear")
    )[..., 0]
    heatmap = np.maximum(heatmap, 0.0)
    if heatmap.max() > 0:
        heatmap = heatmap / heatmap.max()
    return {
        "heatmap": heatmap,
        "layer": target,
        "class_index": class_index,
        "score": float(scores[class_index]),
        "cam": cam,
    }


def plot_grad_cam(image, result: dict, path, class_name: str | None = None) -> None:
    """The image, the heatmap, and the heatmap over the image (``result`` from :func:`grad_cam`)."""
    shown = _displayable(np.asarray(image, dtype=np.float64).reshape(result["heatmap"].shape + (-1,)))
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.4))
    axes[0].imshow(shown, cmap="gray")
    axes[0].set_title("image")
    axes[1].imshow(result["heatmap"], cmap="jet", vmin=0, vmax=1)
    axes[1].set_title(f"Grad-CAM at {result['layer']}", fontsize=8)
    axes[2].imshow(shown, cmap="gray")
    axes[2].imshow(result["heatmap"], cmap="jet", alpha=0.45, vmin=0, vmax=1)
    axes[2].set_title(f"class {class_name or result['class_index']}", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path)
