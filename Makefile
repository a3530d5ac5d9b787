# The two commands of the README. Each sets up everything it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint setup clean

demo: $(STAMP)
	$(BIN)/eyeline demo --out out/demo

test: lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	tools/typecheck.sh

setup: $(STAMP)

$(STAMP): pyproject.toml tools/setup.sh
	PYTHON=$(PYTHON) bash tools/setup.sh
	touch $(STAMP)

clean:
	rm -rf $(VENV) out build *.egg-info
