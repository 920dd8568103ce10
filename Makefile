# One-command set-up: `make demo` and `make test` create .venv on a fresh machine.
# CUDA users: make TORCH_SPEC='torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126' ...
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?= -n 2
DEMO_OUT ?= outputs/demo
STAMP := $(VENV)/.installed

.PHONY: setup ros demo test test-fast bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip >/dev/null
	$(PY) -m pip install $(TORCH_SPEC)
	$(PY) -m pip install -e '.[dev,ros,ros-build]'
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

clean:
	rm -rf $(VENV) outputs .pytest_cache
