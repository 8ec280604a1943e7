# Two commands on a fresh machine: `make demo` runs the product, `make test` runs the tests.
# Both create .venv first. `make demo` installs the package alone (about 160 MB);
# `make test`, `make check`, `make schema` and `make bench` add the test and benchmark
# tools (`install`, about 470 MB in all).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
APP_STAMP := $(VENV)/.installed-app
DEV_STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo test check bench schema clean

$(BIN)/python:
	@echo "== Creating $(VENV) with $(PYTHON) (on Debian/Ubuntu this needs python3-venv)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# pip prints each package as it is downloaded and installed: a first install takes a minute or two.
$(APP_STAMP): pyproject.toml | $(BIN)/python
	@echo "== Installing capo-worker and what it needs to run into $(VENV)"
	$(BIN)/pip install --progress-bar on -e .
	touch $(APP_STAMP)

$(DEV_STAMP): pyproject.toml $(APP_STAMP)
	@echo "== Installing the test and benchmark tools into $(VENV)"
	$(BIN)/pip install --progress-bar on -e '.[test,bench]'
	touch $(DEV_STAMP)

install: $(DEV_STAMP)

demo: $(APP_STAMP)
	$(BIN)/capo-worker demo

test: $(DEV_STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

check: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# After changing a migration or a SQL function file: docs/schema.sql and the schema version.
schema: $(DEV_STAMP)
	$(BIN)/python -m tests.support.schema_dump

bench: $(DEV_STAMP)
	$(BIN)/python bench/stats.py
	$(BIN)/python bench/queue.py
	$(BIN)/python -m bench.post_match

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-output
