# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CHROMIUM := /usr/bin/chromium
AS_ROOT := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test check bench bench-references clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Runtime install with the Python client (client/, its own distribution, which the trader
# commands of the CLI use); re-done when a pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml client/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e . -e ./client
	touch $@

# Runtime plus what the tests, linters and type checker need.
$(VENV)/.installed-test: pyproject.toml client/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]' -e ./client
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/tradebridge serve

check: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench client examples
	$(BIN)/ruff format --check src tests bench client examples
	$(BIN)/mypy

# Debian's Chromium, the browser the page tests (tests/web) drive, with a font for Chinese.
$(CHROMIUM):
	$(AS_ROOT) apt-get update
	$(AS_ROOT) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-wqy-microhei

test: check $(CHROMIUM)
	$(BIN)/pytest

# Order entry and reads beside their floor (bench/README.md); wrk must be installed.
bench: $(VENV)/.installed-test
	$(BIN)/python bench/orders.py

# The dialects beside httptrading itself (installed in a venv of its own under bench/.venvs).
bench-references: $(VENV)/.installed-test
	$(BIN)/python bench/references.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
