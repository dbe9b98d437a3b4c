# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TSTAMP := $(VENV)/.installed-test-stamp

.PHONY: demo test lint typecheck unit bench constraints clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependency list changes. constraints.txt pins the tested versions.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(TSTAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@ $(STAMP)

demo: $(STAMP)
	$(BIN)/journey demo

lint: $(TSTAMP)
	$(BIN)/ruff check assistant tools tests benchmarks
	$(BIN)/ruff format --check assistant tools tests benchmarks

typecheck: $(TSTAMP)
	$(BIN)/mypy

unit: $(TSTAMP)
	$(BIN)/pytest -n 2 --dist loadfile -q

test: lint typecheck unit

bench: $(TSTAMP)
	$(BIN)/python benchmarks/run_all.py

# Pin what .venv has now (run make test first): the versions the next fresh install will get.
constraints: $(TSTAMP)
	{ sed -n '1,3p' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v -E '^(build|pyproject_hooks)=='; } > constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) demo memos .journey .pytest_cache .mypy_cache .ruff_cache
