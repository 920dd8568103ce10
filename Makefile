# One-command set-up: `make demo` and `make test` create .venv on a fresh machine.
# CUDA users: make TORCH_SPEC='torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126' ...
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?= -n 2
DEMO_OUT ?= outputs/demo
STAMP := $(VENV)/.installed

.PHONY: setup ros demo test test-fast bench wheels clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip >/dev/null
	$(PY) -m pip install $(TORCH_SPEC)
	$(PY) -m pip install -e '.[dev,ros,ros-build,openvino]'
	bash tools/build_vision_msgs.sh $(VENV)
	$(PY) -m pip install -e ros_node
	touch $(STAMP)

# ROS 2 (PyPI wheels) + vision_msgs built into the venv; rebuilds vision_msgs only when its sources changed.
# Needs cmake, make, gcc and g++ (Debian: apt-get install cmake make gcc g++).
ros: $(STAMP)
	bash tools/build_vision_msgs.sh $(VENV)

demo: $(STAMP)
	$(VENV)/bin/record demo --out $(DEMO_OUT)

# Timing-sensitive tests (marker `serial`) run on their own after the parallel run, so that no other test
# worker loads the 2 cores while they measure pacing and latency drift.
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS) -m 'not serial'
	$(PY) -m pytest -m serial

test-fast: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS) -m 'not slow and not serial'

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b --json; done

# Wheels of the non-torch dependencies for an offline `pip install --no-index --find-links wheelhouse -e .`
# on the lent GPU machine (CPython 3.12, x86-64; benchmarks/gpu_check.sh installs from them). Not carried, as
# that machine's image has them (and they would not fit the 64 MiB its tool carries): torch and WHEELS_SKIP.
WHEELHOUSE ?= wheelhouse
WHEELS_PYTHON ?= 3.12
WHEELS_SKIP ?= numpy scipy numba llvmlite onnx onnxscript onnxruntime matplotlib tensorboard
wheels: $(STAMP)
	$(PY) tools/wheelhouse.py --out $(WHEELHOUSE) --python-version $(WHEELS_PYTHON) --skip "$(WHEELS_SKIP)"

clean:
	rm -rf $(VENV) outputs .pytest_cache
