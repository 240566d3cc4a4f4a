# Two entry points, each bootstrapping .venv on first use: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint coverage conformance bench fuzz

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,fuzz]'
	$(BIN)/python -m promptwire.harden_quickjs   # quickjs with its out-of-memory crash fixed (docs/transforms.md)
	touch $@

$(BIN)/.bench: $(BIN)/.installed
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,fuzz,bench]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/promptwire demo

test: $(BIN)/.installed
	$(BIN)/python -bb -m pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy --strict sansio_core bindings
	$(BIN)/python ../shared/tools/check_purity.py sansio_core
	$(BIN)/python -m promptwire._unasync --check

# Branch coverage of the pure core from its own tests (fail_under in pyproject.toml).
coverage: $(BIN)/.installed
	$(BIN)/python -bb -m coverage run -m pytest -q -x tests/core
	$(BIN)/python -m coverage report

conformance: $(BIN)/.installed
	cd ../shared/conformance && PROMPTWIRE=$(CURDIR)/$(BIN)/promptwire \
	  $(CURDIR)/$(BIN)/python compare.py --profile promptwire --skip-slow \
	  --cmd '$(CURDIR)/$(BIN)/python ../promptwire_client.py --case {case}'

bench: $(BIN)/.bench
	$(BIN)/python tests/bench/run_all.py

fuzz: $(BIN)/.installed
	bash fuzz/run_all.sh
