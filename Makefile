# One entry point. `make book` sets up .venv (once) and builds the book; `make test` sets up and runs the tests.
PROFILE ?= smoke
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test lab env clean

book: $(STAMP)
	$(BIN)/python -m drnlib.book --profile $(PROFILE)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=book $(if $(filter 0,$(shell id -u)),--allow-root)

env: $(STAMP)

# Re-run pip only when the pins change; an existing .venv is reused. jupyter/overrides.json is the project's
# JupyterLab configuration: book/*.py open as notebooks on a double click (jupytext's viewer by default).
$(STAMP): requirements.txt pyproject.toml jupyter/overrides.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-build-isolation --no-deps -e .
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp jupyter/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $@

clean:
	rm -rf _build .cache/book
