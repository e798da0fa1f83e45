# recvault: every target creates .venv when missing and installs into it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_FLAGS := --disable-pip-version-check -q

.PHONY: run test test-slow bench lint fmt clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev,test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/recvault dev $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check vault keys api tests bench
	$(BIN)/ruff format --check vault keys api
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format vault keys api tests bench
	$(BIN)/ruff check --fix vault keys api tests bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
