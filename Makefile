# Every target sets up .venv itself. torch==2.13.0 is installed first, on its own, so that
# no later step can pull a multi-gigabyte CUDA build (the CPU wheel lies on disk here).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint hooks bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,lint]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m daekit image demo --out runs/image_demo

test: $(STAMP)
	$(BIN)/python -m pytest

# Lint, format check and type check: what CI runs before the tests.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Run the same checks on every `git commit` (see .pre-commit-config.yaml).
hooks: $(STAMP)
	$(BIN)/pre-commit install

bench: $(STAMP)
	$(BIN)/pip install -q -r benchmarks/requirements.txt
	$(BIN)/python benchmarks/run_all.py --data ../shared/data

clean:
	rm -rf $(VENV) runs build dist src/*.egg-info
