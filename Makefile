# The targets the README tells people to type. Each one sets up the virtual environment first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup run test bench leaderboard clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

run: setup
	$(BIN)/mer-bench run --all

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python -m pytest benchmarks --benchmark-only -p no:cacheprovider

leaderboard: setup
	$(BIN)/mer-bench leaderboard

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
