# Two commands: `make run` starts the app, `make test` runs every test. Both create .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: run test bench sysdeps clean snapshot-update lf-env

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "ftmllm-tui needs Python >= 3.10")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@ $(VENV)/.installed

## make run [ARGS="--replay FILE"]: start the TUI (no GPU here: it says so and replays a real recording)
run: $(VENV)/.installed
	$(BIN)/ftmllm-tui $(ARGS)

## make test: system packages, dev extras, the LLaMA-Factory test env (.venv-lf), the whole suite
test: sysdeps $(VENV)/.installed-dev lf-env
	$(BIN)/python -m pytest

## make lf-env: .venv-lf with CPU torch + LLaMA-Factory 0.9.5 for the end-to-end tests (~2 min once)
lf-env:
	@sh scripts/lf_env.sh >/dev/null

## make bench: performance figures (bench/README.md); results under bench/results/
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run_all.py

snapshot-update: $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/ui/test_snapshots.py --snapshot-update

sysdeps:
	@sh scripts/sysdeps.sh

clean:
	rm -rf $(VENV) .venv-lf build *.egg-info .pytest_cache .hypothesis
