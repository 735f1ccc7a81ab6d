"""kcnn.analysis benchmarks, run through tools/benchmark.py (``--mode=profile | hessian | im2col``).

* profile: time of ``kcnn.analysis.profile`` for every registered model at its default input,
  the process's resident memory before and after (a second copy of the weights would show),
  and the MACs total.
* hessian: one gradient against one Hessian-vector product on the same batch (median of
  ``--repeats`` after a warm-up), then the top eigenvalue by power iteration, timed.
* im2col: ``im2col_conv2d`` against ``keras.ops.conv`` (median of ``--repeats`` eager calls)
  and the bytes of the patch matrix against the input's.
"""

from __future__ import annotations

import statistics
import time


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def _count(n: int) -> str:
    """As the README's model table writes MACs: G with three decimals, or M with one."""
    return f"{n / 1e9:.3f} G" if n >= 1e9 else f"{n / 1e6:.1f} M"


def profile(flags, machine: str) -> None:
    import keras

    import kcnn
    from kcnn.analysis import profile as run_profile

    names = flags.analysis_models or kcnn.list_models()
    print(f"kcnn.analysis.profile at each model's default input; {machine}")
    print("| model | input | build (s) | profile (s) | MACs | other ops | resident memory change (MB) |")
    print("|---|---|---:|---:|---:|---:|---:|", flush=True)
    slowest = (0.0, "")
    for name in names:
        info = kcnn.model_info(name)
        tic = time.perf_counter()
        model = kcnn.create_model(name)
        build = time.perf_counter() - tic
        before = _rss_mb()
        tic = time.perf_counter()
        p = run_profile(model, info.input_shape)
        seconds = time.perf_counter() - tic
        grown = _rss_mb() - before
        if p.total_params != model.count_params():
            raise AssertionError(
                f"{name}: profile counts {p.total_params} parameters, the model {model.count_params()}"
            )
        slowest = max(slowest, (seconds, name))
        shape = "x".join(map(str, info.input_shape))
        print(
            f"| {name} | {shape} | {build:.1f} | {seconds:.2f} | {_count(p.macs)} | {_count(p.ops)} | {grown:+.1f} |",
            flush=True,
        )
        del model
        keras.backend.clear_session()
    print(f"slowest profile: {slowest[1]} {slowest[0]:.2f} s")


def hessian(flags, machine: str) -> None:
    import keras
    import numpy as np

    import kcnn
    from kcnn.analysis import hessian as H

    info = kcnn.model_info(flags.model)
    shape = info.input_shape
    if flags.image_size:
        shape = (int(flags.image_size[0]), int(flags.image_size[1]), shape[2])
    model = kcnn.create_model(flags.model, input_shape=shape, classes=10)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(flags.batch_size, *shape)).astype("float32")
    y = rng.integers(0, 10, size=(flags.batch_size,))
    op = H.HessianOperator(model, (x, y))
    v = rng.standard_normal(op.num_params)
    op.loss_and_gradient()  # trace and compile both
    op.matvec(v)
    grads, hvps = [], []
    for _ in range(flags.repeats):  # in turns, so a slow spell of the machine falls on both
        grads.append(_median_seconds(op.loss_and_gradient, 1))
        hvps.append(_median_seconds(lambda: op.matvec(v), 1))
    grad_s, hvp_s = statistics.median(grads), statistics.median(hvps)
    print(
        f"{flags.model} {shape}, batch {flags.batch_size}, {op.num_params:,} parameters, "
        f"{keras.backend.backend()} backend; median of {flags.repeats} in turns; {machine}"
    )
    print(f"  one gradient               {grad_s * 1000:9.1f} ms")
    print(f"  one Hessian-vector product {hvp_s * 1000:9.1f} ms  ({hvp_s / grad_s:.2f}x the gradient)")
    start = op.matvecs
    tic = time.perf_counter()
    values, _ = H.top_eigenvalues(op, k=1, tol=1e-3)
    print(
        f"  top eigenvalue {values[0]:.4g} by power iteration (relative change < 1e-3): "
        f"{op.matvecs - start} products, {time.perf_counter() - tic:.1f} s (random weights and labels)"
    )


IM2COL_CASES = [
    # (batch, height, width, C_in, C_out, kernel, stride)
    (32, 32, 32, 16, 16, 3, 1),
    (32, 16, 16, 64, 64, 3, 1),
    (8, 56, 56, 64, 64, 3, 1),
    (8, 224, 224, 3, 64, 7, 2),
    (8, 28, 28, 192, 32, 5, 1),
]


def im2col(flags, machine: str) -> None:
    import keras
    import numpy as np

    from kcnn.analysis import im2col_conv2d, patch_matrix_bytes

    rng = np.random.default_rng(0)
    print(f"im2col_conv2d against keras.ops.conv ('same' padding, float32, eager, median of {flags.repeats})")
    print(f"  {machine}")
    print("| input (N, H, W, C) | kernel | stride | Conv2D (ms) | im2col (ms) | ratio | patch matrix (MB) | x input |")
    print("|---|---|---:|---:|---:|---:|---:|---:|", flush=True)
    for n, h, w, c, f, k, s in IM2COL_CASES:
        x = keras.ops.convert_to_tensor(rng.standard_normal((n, h, w, c)).astype("float32"))
        kernel = keras.ops.convert_to_tensor(rng.standard_normal((k, k, c, f)).astype("float32") * 0.1)
        direct = keras.ops.conv(x, kernel, strides=s, padding="same")
        unfolded = im2col_conv2d(x, kernel, strides=s, padding="same")
        err = float(np.abs(keras.ops.convert_to_numpy(direct) - keras.ops.convert_to_numpy(unfolded)).max())
        if err > 1e-3:
            raise AssertionError(f"im2col differs from conv by {err}")
        conv_s = _median_seconds(
            lambda x=x, kernel=kernel, s=s: keras.ops.convert_to_numpy(keras.ops.conv(x, kernel, s, "same")),
            flags.repeats,
        )
        im2col_s = _median_seconds(
            lambda x=x, kernel=kernel, s=s: keras.ops.convert_to_numpy(im2col_conv2d(x, kernel, s, "same")),
            flags.repeats,
        )
        patches = patch_matrix_bytes((n, h, w, c), k, s, "same")
        print(
            f"| {n}x{h}x{w}x{c} | {k}x{k}x{c}x{f} | {s} | {conv_s * 1000:.1f} | {im2col_s * 1000:.1f} | "
            f"{im2col_s / conv_s:.2f} | {patches / 2**20:.1f} | {patches / (n * h * w * c * 4):.2f} |",
            flush=True,
        )
