"""Print a Markdown table of every registered model: parameters, MACs, depth, input size, latency.

  python tools/model_table.py                      # all models
  python tools/model_table.py --family=resnet --runs=5

Latency is CPU inference (``model.predict_on_batch``) at batch 1 and 32, the median of
``--runs`` timed calls after one warm-up call. "published" is the figure
the tests check (``total`` or ``trainable`` parameters; an ``M`` figure is the paper's
rounding, checked within it). Depth counts the convolution and dense
layers (projection shortcuts and SE layers included), not the paper's path length.
MACs are ``kcnn.analysis.profile``'s multiply-accumulates of the convolution and dense
layers at the listed input (torchvision's convention), per image.
"min input" is the smallest input the builder accepts (``model_info(name).min_input``);
"endpoints" the backbone feature maps by stride (``kcnn.models.endpoints``; P{k} at
stride 2**k, "-" for none).
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

flags.DEFINE_string("family", None, "only this family")
flags.DEFINE_list("models", None, "only these models")
flags.DEFINE_integer("runs", 5, "timed runs per batch size (median reported)")
flags.DEFINE_list("batch_sizes", ["1", "32"], "batch sizes to time")
flags.DEFINE_bool("latency", True, "time inference (off: parameters, MACs and depth only)")
FLAGS = flags.FLAGS


def depth(model) -> int:
    import keras

    weighted = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D, keras.layers.Dense)
    count = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, weighted) or type(layer).__name__ in ("ConnectionTableConv2D",):
            count += 1
    return count


def published(info) -> str:
    """The published count the tests check, with its convention (total or trainable)."""
    if info.params is None:
        return ""
    figure = f"{info.params / 1e6:g}M" if info.params_tolerance else f"{info.params:,}"
    return f"{figure} {info.params_convention}"


def endpoint_levels(model) -> str:
    """``P1-P5`` for a model whose builder records endpoints, "-" otherwise."""
    from kcnn.models import endpoints

    try:
        levels = list(endpoints(model))
    except ValueError:
        return "-"
    return f"{levels[0]}-{levels[-1]}"


def macs_text(model, shape) -> str:
    """Multiply-accumulates per image at ``shape`` (kcnn.analysis.profile), as G or M."""
    from kcnn.analysis import profile

    macs = profile(model, shape).macs
    return f"{macs / 1e9:.3f} G" if macs >= 1e9 else f"{macs / 1e6:.1f} M"


def latency_ms(model, shape, batch: int, runs: int) -> float:
    import numpy as np

    x = np.random.default_rng(0).uniform(0, 1, size=(batch, *shape)).astype("float32")
    model.predict_on_batch(x)
    times = []
    for _ in range(runs):
        tic = time.perf_counter()
        model.predict_on_batch(x)
        times.append((time.perf_counter() - tic) * 1000)
    return statistics.median(times)


def main(argv):
    del argv
    import keras

    import kcnn

    names = FLAGS.models or kcnn.list_models(family=FLAGS.family)
    batches = [int(b) for b in FLAGS.batch_sizes]
    head = "| model | family | params | published (tested) | MACs | weighted layers | input | min input | endpoints |"
    rule = "|---|---|---:|---:|---:|---:|---|---|---|"
    if FLAGS.latency:
        head += "".join(f" latency b={b} (ms) |" for b in batches)
        rule += "---:|" * len(batches)
    print(head)
    print(rule, flush=True)
    for name in names:
        info = kcnn.model_info(name)
        model = kcnn.create_model(name)
        row = (
            f"| {name} | {info.family} | {model.count_params():,} | {published(info)} | "
            f"{macs_text(model, info.input_shape)} | {depth(model)} | "
            f"{'x'.join(str(s) for s in info.input_shape)} | "
            f"{'x'.join(str(s) for s in info.min_input) if info.min_input else ''} | {endpoint_levels(model)} |"
        )
        if FLAGS.latency:
            row += "".join(f" {latency_ms(model, info.input_shape, b, FLAGS.runs):.1f} |" for b in batches)
        print(row, flush=True)
        del model
        keras.backend.clear_session()


if __name__ == "__main__":
    app.run(main)
