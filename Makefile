# The two commands of the README. Each sets up .venv/ on a fresh machine first (once).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: book test sync

book: $(VENV)/.installed  ## run every numbered notebook over data/samples, HTML reports in reports/
	$(PY) -m xai_helpers.run.book

test: $(VENV)/.installed  ## ruff (lint and format), the unit tests, then every notebook under nbval
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

sync: $(VENV)/.installed  ## bring each notebook and its py:percent twin back in step
	$(VENV)/bin/jupytext --sync notebooks/[0-9][0-9]_*.ipynb

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@
