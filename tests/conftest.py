"""Shared fixtures: a clean Keras session and dtype policy for every test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # One compute thread per pytest-xdist worker: workers x threads > cores makes the
    # backends' thread pools spin against each other (tests slowed tenfold here).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

# Under JAX every check compiles with XLA; its CPU backend's LLVM optimizations double the compile
# time of a network's forward and gradient (DenseNet-BC: 196 s -> 95 s without them) and a test runs
# each compiled function once or twice. (Not under TensorFlow, whose jit_compile tests read XLA_FLAGS too.)
if os.environ.get("KERAS_BACKEND") == "jax":
    os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true")

import keras  # noqa: E402
import pytest  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER") and keras.backend.backend() == "torch":
    import torch

    torch.set_num_threads(1)

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


_tests_since_gc = 0


@pytest.fixture(autouse=True)
def _clean_keras_state():
    # clear_session's garbage collection costs about 0.7 s with TensorFlow loaded: once every
    # 25 tests keeps memory bounded at a fraction of the time.
    global _tests_since_gc
    _tests_since_gc = (_tests_since_gc + 1) % 25
    keras.backend.clear_session(free_memory=_tests_since_gc == 0)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


def pytest_collection_modifyitems(config, items):
    # Tests of the TensorFlow parts (data, training, export) are marked tf_only when the
    # suite runs under another Keras backend.
    heavy = os.environ.get("KCNN_HEAVY_TESTS") == "1"
    for item in items:
        if "heavy" in item.keywords and not heavy:
            item.add_marker(
                pytest.mark.skip(reason="opt-in tier 'heavy' (minutes on 2 cores); KCNN_HEAVY_TESTS=1 runs it")
            )
        if keras.backend.backend() != "tensorflow" and "tf_only" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=f"needs the tensorflow backend, running {keras.backend.backend()}"))


@pytest.fixture(scope="session")
def fashion_mnist_dir():
    if not os.path.isdir(FASHION_MNIST_DIR):
        pytest.fail(f"{FASHION_MNIST_DIR} is missing: `make test` installs it (apt-get install dataset-fashion-mnist)")
    return FASHION_MNIST_DIR
