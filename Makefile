# Two commands set everything up: `make demo` and `make test`.
# The virtual environment is created on first use and re-installed whenever
# pyproject.toml changes (the stamp file is older than pyproject.toml).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test soak venv clean content

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/exhibit demo

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# A two-minute soak (CI runs it after the suite): a controller pair, three render nodes
# and a kiosk with kills and injected jitter; exit 1 when a figure misses its bound.
soak: $(STAMP)
	$(BIN)/exhibit soak --minutes 2 --nodes 3 --json out/soak.json

content: $(STAMP)
	$(BIN)/python tools/gen_ice_festival.py

clean:
	rm -rf out build *.egg-info
