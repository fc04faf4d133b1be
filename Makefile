# The targets the README tells people to type. Each one sets up the virtual environment first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup browser run test bench leaderboard clean

# constraints.txt pins the torch / torchvision pair this platform provides (pyproject.toml has ranges).
$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

# tests/test_site.py opens the web leaderboard in Debian's Chromium, driven through its chromedriver.
# Installed once, when missing (apt-get as root, sudo otherwise); about a minute.
CHROMIUM := /usr/bin/chromium /usr/bin/chromedriver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser: $(CHROMIUM)

$(CHROMIUM) &:
	@echo "installing Debian's chromium and chromium-driver for the browser test"
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium chromium-driver >/dev/null

run: setup
	$(BIN)/mer-bench run --all

test: setup browser
	$(BIN)/python -m pytest

# Also writes results/throughput.md, the page that says what runs where.
bench: setup
	$(BIN)/python -m pytest benchmarks --benchmark-only -p no:cacheprovider \
		--throughput-page results/throughput.md

leaderboard: setup
	$(BIN)/mer-bench leaderboard

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
