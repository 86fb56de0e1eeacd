# scalekit — the two commands a student or instructor needs are `make lab` and `make test`.
# Everything else (venv, packages, student notebooks) is set up on demand; re-running is quick
# because the install step only reruns when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.scalekit-installed
# Notebooks, tests and benchmarks never need a display.
export MPLBACKEND := Agg

.PHONY: help setup lab test lint unit notebooks student grade bench clean

help:
	@echo "make lab      set everything up and open JupyterLab on notebooks/"
	@echo "make test     set everything up and run the whole suite (lint, tests, notebooks, student build)"
	@echo "make student  build student notebooks and autograder zips into student/"
	@echo "make grade SUBMISSIONS=dir [NOTEBOOK=01_servers]  grade a folder of submissions into grades/"
	@echo "make bench    speed comparisons against peers (SimPy), printed as ratios"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all]'
	@touch $@

setup: $(STAMP)

# (--allow-root only when run as root, e.g. in a container: Jupyter refuses root otherwise.)
lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 \
		$(if $(filter 0,$(shell id -u)),--allow-root,)

lint: setup
	$(BIN)/ruff check scalekit tests benchmarks

# The browser tests (tests/test_browser_*.py: JupyterLab driven through Chromium) need Debian's
# Chromium (apt-get install chromium) or $SCALEKIT_CHROMIUM; without one they are left out.
CHROMIUM := $(firstword $(wildcard $(SCALEKIT_CHROMIUM) /usr/bin/chromium) \
                        $(shell command -v chromium 2>/dev/null))

# Unit, property, theory and widget tests, the student build, every master notebook run
# top to bottom by nbval, and every notebook in a real browser — on 2 processes (by scope: a
# notebook, a test module or a test class stays on one worker, so a notebook keeps its kernel
# and each master's student build runs once).
test: setup lint
	@if [ -n "$(CHROMIUM)" ]; then echo "browser tests: on, with $(CHROMIUM)"; \
	else echo "browser tests: SKIPPED - no Chromium found (apt-get install chromium, or set SCALEKIT_CHROMIUM)"; fi
	$(BIN)/python -m pytest -n 2 --dist loadscope --nbval-lax --nbval-current-env tests notebooks \
		$(if $(CHROMIUM),,--ignore-glob='tests/test_browser_*.py')

student: setup
	$(BIN)/python -m scalekit.grading assign --out student

grade: setup
	@test -n "$(SUBMISSIONS)" || (echo "usage: make grade SUBMISSIONS=folder-of-notebooks [NOTEBOOK=01_servers]"; exit 2)
	$(BIN)/python -m scalekit.grading grade "$(SUBMISSIONS)" --notebook $(or $(NOTEBOOK),01_servers) --out grades

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf student grades .pytest_cache .ruff_cache
