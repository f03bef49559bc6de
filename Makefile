# sftplay-tui: the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# CPU torch where there is no NVIDIA driver (fast, from local disk); the normal build on GPU boxes.
TORCH_SPEC ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo torch || echo torch==2.13.0)
PRESET ?=
CONFIG ?=
ARGS ?=

.PHONY: help venv install install-dev run test lint typecheck unit pytest gpu-info check \
        setup-accelerate train-distributed train-distributed-tb train-local tensorboard bench snapshots clean

help:
	@echo "make run                 create .venv if missing, install, start the app"
	@echo "make test                same environment plus dev tools; ruff, mypy, import contracts, pytest"
	@echo "make gpu-info            show GPUs, topology and the env vars accelerate reads"
	@echo "make check               check the accelerate config against this machine"
	@echo "make setup-accelerate    the wizard (PRESET=name writes a preset instead)"
	@echo "make train-distributed   accelerate launch of training/ with the current config"
	@echo "make train-distributed-tb  the same, with TensorBoard"
	@echo "make train-local         accelerate launch training/sft_train.py directly (CONFIG=, ARGS=)"
	@echo "make tensorboard         TensorBoard on the runs' output directories"
	@echo "make bench               the benchmarks in benchmarks/"

$(BIN)/python:
	$(shell command -v $(PY) >/dev/null 2>&1 && echo $(PY) || echo python3) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

venv: $(BIN)/python

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e '.[train]'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -q -e '.[train,dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/sftplay-tui

lint: install-dev
	$(BIN)/ruff check tui training tests benchmarks
	$(BIN)/ruff format --check tui training tests benchmarks
	$(BIN)/lint-imports

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: lint typecheck pytest

gpu-info: install
	$(BIN)/sftplay-tui gpu-info

check: install
	$(BIN)/sftplay-tui check $(if $(CONFIG),--config-file $(CONFIG))

setup-accelerate: install
	$(if $(PRESET),$(BIN)/sftplay-tui write --preset $(PRESET),$(BIN)/sftplay-tui config)

train-distributed: install
	$(BIN)/sftplay-tui launch $(if $(CONFIG),--config-file $(CONFIG)) -- $(ARGS)

train-distributed-tb: install
	$(BIN)/tensorboard --logdir outputs --port 6006 >/dev/null 2>&1 & tb=$$!; \
	trap "kill $$tb" EXIT; $(BIN)/sftplay-tui launch $(if $(CONFIG),--config-file $(CONFIG)) -- $(ARGS)

# Direct `accelerate launch` of the training script, without the app's run folders. On a machine
# without an NVIDIA driver, ACCELERATE_USE_CPU=true makes a multi-process config's CPU ranks connect.
train-local: install
	PYTHONUNBUFFERED=1 $(if $(shell command -v nvidia-smi 2>/dev/null),,ACCELERATE_USE_CPU=true) \
	$(BIN)/accelerate launch $(if $(CONFIG),--config_file $(CONFIG)) training/sft_train.py $(ARGS)

tensorboard: install
	$(BIN)/tensorboard --logdir outputs --port 6006

bench: install-dev
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

snapshots: install-dev
	$(BIN)/pytest -q tests/tui --snapshot-update

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
