# The two commands of the README. Each sets up everything it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz lint setup clean

demo: $(STAMP)
	$(BIN)/eyeline demo --out out/demo

test: lint
	$(BIN)/python -m pytest -q

# The long fuzz run (about five minutes): counts per target into docs/SECURITY.md's fuzz table.
fuzz: $(STAMP)
	$(BIN)/python -m eyeline.tools.fuzz_report --seconds 15

lint: $(STAMP)
	$(BIN)/ruff check .
	tools/typecheck.sh

setup: $(STAMP)

$(STAMP): pyproject.toml tools/setup.sh
	PYTHON=$(PYTHON) bash tools/setup.sh
	touch $(STAMP)

clean:
	rm -rf $(VENV) out build *.egg-info
