# The targets the README tells people to type. Each one sets up the virtual environment first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup run test bench leaderboard clean

# constraints.txt pins the torch / torchvision pair this platform provides (pyproject.toml has ranges).
$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

run: setup
	$(BIN)/mer-bench run --all

test: setup
	$(BIN)/python -m pytest

# Also writes results/throughput.md, the page that says what runs where.
bench: setup
	$(BIN)/python -m pytest benchmarks --benchmark-only -p no:cacheprovider \
		--throughput-page results/throughput.md

leaderboard: setup
	$(BIN)/mer-bench leaderboard

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
