# The README's two commands: `make quickstart` (main job) and `make test` (test suite).
# Both create the virtual environment on first use; that first install compiles llama-cpp-python (~6-10 min).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1

.PHONY: quickstart test run install sandbox-tools

# What a fresh machine needs: the venv, and bubblewrap for the code sandbox (synthfoundry/sandbox).
install: sandbox-tools $(VENV)/.installed

sandbox-tools:
	@command -v bwrap > /dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
	    apt-get update -qq && apt-get install -y -qq bubblewrap; \
	  else \
	    echo "bubblewrap (bwrap) is missing: the code sandbox falls back to 'unshare -Urn' (no file hiding);" \
	         "install it with your package manager (apt-get/dnf/pacman install bubblewrap)"; \
	  fi; }

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# GGML_NATIVE=OFF: a native llama.cpp build uses AMX on these CPUs and crashes on the first decode.
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PY) -m pip install --quiet -e '.[dev]'
	# This machine sets PYTHONDONTWRITEBYTECODE; without .pyc files imports are ~2x slower.
	$(PY) -m compileall -q -j 0 $(VENV)/lib > /dev/null || true
	touch $@

quickstart: install
	$(PY) -m flows.generate deployments/configs/quickstart.yaml

# Any run config: make run CONFIG=deployments/configs/wrap.yaml
run: install
	$(PY) -m flows.generate $(CONFIG)

test: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest
