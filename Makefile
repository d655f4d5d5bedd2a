# Each target sets itself up: `.venv` is created when missing, CPU torch goes in first
# (override with TORCH_SPEC, e.g. TORCH_SPEC="torch==2.13.0 --index-url <your CUDA index>"),
# then workbench and its first-party plugins. A second run skips what is done.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
PYTHON ?= python3

export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install test test-real test-latest demo bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.torch: | $(PY)
	$(PY) -m pip install -q $(TORCH_SPEC)
	touch $@

$(VENV)/.installed: pyproject.toml plugins/checks/pyproject.toml plugins/lora/pyproject.toml $(VENV)/.torch
	$(PY) -m pip install -q -e ".[test]" -e plugins/checks -e plugins/lora
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The tests on the newest release of each bounded dependency, past pyproject.toml's upper bounds,
# so that a break shows here before users meet it. Its own venv: `.venv` keeps the bounds.
# In CI: `CI_JOB=latest .ci/run`.
LATEST_VENV ?= .venv-latest
LATEST_DEPS ?= transformers peft lm-eval duckdb streamlit accelerate tokenizers
test-latest:
	$(MAKE) install VENV=$(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install -q --upgrade $(LATEST_DEPS)
	$(LATEST_VENV)/bin/python -m pip list 2>/dev/null | grep -iE '^($(shell echo $(LATEST_DEPS) | tr ' ' '|')) '
	$(LATEST_VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

test-real: install
	$(PY) -m pytest -q -m realmodel $(PYTEST_ARGS)

demo: install
	$(VENV)/bin/workbench demo

bench: install
	$(PY) -m bench $(BENCH_ARGS)

lint: install
	$(VENV)/bin/ruff check workbench plugins tests bench

clean:
	rm -rf $(VENV) $(LATEST_VENV) .workbench *.duckdb
