# Two commands do all the set-up: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kcnn-installed
# The torch and JAX backends are tested too; `make test TORCH= JAX=` skips installing them.
TORCH ?= torch==2.13.0
JAX ?= jax==0.10.2 jaxlib==0.10.2
DATASET_DIR := /usr/share/datasets/fashion-mnist

.PHONY: demo test install data clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e ".[test,litert,onnx]"
	@if [ -n "$(TORCH)" ]; then \
	  $(PY) -m pip install -q --only-binary=:all: "$(TORCH)" \
	  || echo "kcnn: could not install $(TORCH); torch-backend tests will be skipped"; fi
	@if [ -n "$(JAX)" ]; then \
	  $(PY) -m pip install -q --only-binary=:all: $(JAX) \
	  || echo "kcnn: could not install $(JAX); JAX-backend tests will be skipped"; fi
	touch $(STAMP)

# Real Fashion-MNIST offline: Debian's dataset-fashion-mnist package (the four original IDX files).
# Without root or sudo the loader falls back to tensorflow-datasets' download.
data:
	@if [ -d $(DATASET_DIR) ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else echo "kcnn: no root or sudo; Fashion-MNIST will come from tensorflow-datasets (needs a network)"; exit 0; fi; \
	$$SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
	|| { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null; } \
	|| echo "kcnn: apt-get could not install dataset-fashion-mnist; the loader will fall back to tensorflow-datasets"

# LeNet-5 (the paper's, faithfully) on Fashion-MNIST: train, evaluate, plot, save, export, verify.
demo: install data
	$(VENV)/bin/kcnn-train --config=lenet5_fashion_mnist --model_dir=runs/demo --export=savedmodel,tflite --overwrite

# The whole suite under TensorFlow, then the zoo harness (every registered network up to 20M
# parameters) and the layers under Keras' torch backend, then the cheap zoo cases and the
# layer tests marked `jax` under JAX.
test: install data
	$(VENV)/bin/ruff format --check --quiet kcnn experiments tools tests
	$(VENV)/bin/ruff check --quiet kcnn experiments tools tests
	$(PY) -m pytest -q -n 2 --dist loadgroup
	@if $(PY) -c "import torch" 2>/dev/null; then \
	  KERAS_BACKEND=torch $(PY) -m pytest -q -n 2 --dist loadgroup -m "not tf_only and not slow" tests/models/test_zoo.py tests/layers; \
	else echo "kcnn: torch is not installed; the torch-backend pass is skipped (make test TORCH=torch==2.13.0 installs it)"; fi
	@if $(PY) -c "import jax" 2>/dev/null; then \
	  KERAS_BACKEND=jax $(PY) -m pytest -q -n 2 --dist loadgroup -m "jax and not tf_only" tests/models/test_zoo.py tests/layers; \
	else echo "kcnn: JAX is not installed; the JAX-backend pass is skipped (make test JAX='jax==0.10.2 jaxlib==0.10.2' installs it)"; fi

clean:
	rm -rf $(VENV) runs build *.egg-info
