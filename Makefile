# Two commands on a fresh machine: `make demo` runs the product, `make test` runs the tests.
# Both create .venv and install the package into it first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo test check bench schema clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/capo-worker demo

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# After changing a migration or a SQL function file: docs/schema.sql and the schema version.
schema: $(STAMP)
	$(BIN)/python -m tests.support.schema_dump

bench: $(STAMP)
	$(BIN)/python bench/stats.py
	$(BIN)/python bench/queue.py
	$(BIN)/python -m bench.post_match

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-output
