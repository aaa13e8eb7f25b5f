# The README's two commands: `make quickstart` (main job) and `make test` (test suite).
# Both create the virtual environment on first use; that first install compiles llama-cpp-python (~6-10 min).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1

.PHONY: quickstart test run

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# GGML_NATIVE=OFF: a native llama.cpp build uses AMX on these CPUs and crashes on the first decode.
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PY) -m pip install --quiet -e '.[dev]'
	# This machine sets PYTHONDONTWRITEBYTECODE; without .pyc files imports are ~2x slower.
	$(PY) -m compileall -q -j 0 $(VENV)/lib > /dev/null || true
	touch $@

quickstart: $(VENV)/.installed
	$(PY) -m flows.generate deployments/configs/quickstart.yaml

# Any run config: make run CONFIG=deployments/configs/wrap.yaml
run: $(VENV)/.installed
	$(PY) -m flows.generate $(CONFIG)

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(PY) -m pytest
