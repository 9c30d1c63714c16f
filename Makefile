# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CHROMIUM := /usr/bin/chromium
STRACE := /usr/bin/strace
AS_ROOT := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test check bench bench-references clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Runtime install; re-done when a pyproject.toml changes. The server depends on the Python
# client (client/, its own distribution), which pip installs as a copy; it is then installed
# again in place (editable), so a change to client/ is seen without reinstalling.
$(VENV)/.installed-run: pyproject.toml client/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m pip install --quiet --no-deps -e ./client
	touch $@

# vnpy_ctp (in the test extra) has no Linux wheel on PyPI: pip builds it from source (g++,
# about 1.5 min). The wheel is kept in WHEELS, outside the checkout, so that a new venv or a
# fresh clone installs it in seconds.
WHEELS ?= $(HOME)/.cache/tradebridge/wheels
BUILT_WHEELS := vnpy_ctp>=6.7.11,<6.8

# Runtime plus what the tests, linters and type checker need.
$(VENV)/.installed-test: pyproject.toml client/pyproject.toml | $(BIN)/python
	mkdir -p $(WHEELS)
	$(BIN)/python -m pip wheel --quiet --no-deps --find-links $(WHEELS) --wheel-dir $(WHEELS) \
		'$(BUILT_WHEELS)'
	$(BIN)/python -m pip install --quiet --find-links $(WHEELS) -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps -e ./client
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

# strace: tests/brokers/longport traces every connect() of the LongPort SDK (loopback only).
$(STRACE):
	$(AS_ROOT) apt-get update
	$(AS_ROOT) env DEBIAN_FRONTEND=noninteractive apt-get install -y strace

test: check $(CHROMIUM) $(STRACE)
	$(BIN)/pytest

# Order entry and reads beside their floor (bench/README.md); wrk must be installed.
bench: $(VENV)/.installed-test
	$(BIN)/python bench/orders.py
	$(BIN)/python bench/backtest.py

# The dialects beside httptrading itself (installed in a venv of its own under bench/.venvs).
bench-references: $(VENV)/.installed-test
	$(BIN)/python bench/references.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
