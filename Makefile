# The two commands of the README. Each sets up everything it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup clean

demo: $(STAMP)
	$(BIN)/eyeline demo --out out/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

setup: $(STAMP)

$(STAMP): pyproject.toml tools/setup.sh
	PYTHON=$(PYTHON) bash tools/setup.sh
	touch $(STAMP)

clean:
	rm -rf $(VENV) out build *.egg-info
