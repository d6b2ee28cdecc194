# The two set-up commands of the README, on a fresh machine:
#   make demo   # creates .venv, installs hrtemlake, runs the main job into ./lake.zarr
#   make test   # creates .venv, installs hrtemlake with its test extras, runs the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Debian packages GPAW (the md extra) builds against
SYSTEM_PACKAGES := libxc-dev libopenblas-dev liblapack-dev

.PHONY: demo test install system-deps bench clean-venv

# Installs the system packages when they are missing (needs root and apt-get; otherwise
# prints what to install).
system-deps:
	@if dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
	else echo "please install: $(SYSTEM_PACKAGES)"; exit 1; fi

$(BIN)/.installed: pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	CC=g++ $(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/hrtemlake demo

test: $(BIN)/.installed
	$(BIN)/python -m pytest

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_lake.py

clean-venv:
	rm -rf $(VENV)
