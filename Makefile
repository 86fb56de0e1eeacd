# scalekit — the two commands a student or instructor needs are `make lab` and `make test`.
# Everything else (venv, packages, student notebooks) is set up on demand; re-running is quick
# because the install step only reruns when pyproject.toml changes.
# `make lab` opens the student versions (built from the masters, no solutions);
# `make lab-instructor` opens the masters in notebooks/. INSTRUCTORS.md has the whole course flow.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.scalekit-installed
# Notebooks, tests and benchmarks never need a display.
export MPLBACKEND := Agg

.PHONY: help setup lab lab-instructor test lint unit notebooks student publish links grade bench conformance soak clean

# The student branch and the git remote that hand-out links and the install cells point at,
# and the course's JupyterHub (for nbgitpuller links): make student REMOTE=public HUB=https://…
BRANCH ?= student
REMOTE ?= origin
HUB    ?=
STUDENT_STAMP := build/.student-built

help:
	@echo "make lab      set everything up and open JupyterLab on the student notebooks (student/)"
	@echo "make lab-instructor  open JupyterLab on the masters (notebooks/: solutions, hidden tests)"
	@echo "make test     set everything up and run the whole suite (lint, tests, notebooks, student build)"
	@echo "make student  build student/ (what students get) and instructor/autograder/NN_topic.zip"
	@echo "make publish  commit student/ as branch $(BRANCH) (then: git push $(REMOTE) $(BRANCH))"
	@echo "make links [HUB=https://hub.example.edu]  print each notebook's Binder and nbgitpuller links"
	@echo "make grade SUBMISSIONS=dir [NOTEBOOK=01_servers] [JOBS=2] [TIMEOUT_S=300]  grade into grades/"
	@echo "make bench    speed comparisons against peers (SimPy), printed as ratios"
	@echo "make conformance  the public HTTP Caching Tests (cache-tests.fyi) through the caching proxy"
	@echo "make soak [ROUNDS=10]  the property tests with fresh random examples, ROUNDS times"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip uninstall --quiet --yes scalekit 2>/dev/null || true  # the old name
	$(BIN)/python -m pip install --quiet -e '.[all]'
	@touch $@

setup: $(STAMP)

# The public HTTP Caching Tests (cache-tests.fyi, npm http-cache-tests), pinned by the lock
# file, for the caching proxy's conformance test and `make conformance`. They need Node.js
# and npm; without npm the conformance test skips, saying so.
NPM := $(shell command -v npm 2>/dev/null)
CACHE_TESTS := build/cache-tests/node_modules/http-cache-tests/package.json
$(CACHE_TESTS): benchmarks/cache-tests/package.json benchmarks/cache-tests/package-lock.json
	@mkdir -p build/cache-tests
	cp benchmarks/cache-tests/package.json benchmarks/cache-tests/package-lock.json build/cache-tests/
	cd build/cache-tests && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

# (--allow-root only when run as root, e.g. in a container: Jupyter refuses root otherwise.)
lab: $(STUDENT_STAMP)
	$(BIN)/jupyter lab --notebook-dir=student/notebooks --ip=127.0.0.1 \
		$(if $(filter 0,$(shell id -u)),--allow-root,)

lab-instructor: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 \
		$(if $(filter 0,$(shell id -u)),--allow-root,)

# The student versions `make lab` opens, rebuilt when a master changes (without re-running
# the masters' tests: `make student` does that).
$(STUDENT_STAMP): $(STAMP) $(wildcard notebooks/*.ipynb)
	$(BIN)/python -m scalekit.grading assign --no-run-tests --remote $(REMOTE) --branch $(BRANCH) \
		$(if $(HUB),--hub "$(HUB)",)
	@mkdir -p build && touch $@

lint: setup
	$(BIN)/ruff check scalekit tests benchmarks

# The browser tests (tests/test_browser_*.py: JupyterLab driven through Chromium) need Debian's
# Chromium (apt-get install chromium) or $SCALEKIT_CHROMIUM; without one they are left out.
CHROMIUM := $(firstword $(wildcard $(SCALEKIT_CHROMIUM) /usr/bin/chromium) \
                        $(shell command -v chromium 2>/dev/null))

# Unit, property, theory and widget tests, the student build, every master notebook run
# top to bottom, and every notebook in a real browser — on 2 processes (by scope: a
# notebook, a test module or a test class stays on one worker, so a notebook keeps its kernel
# and each master's student build runs once; the tests that time real servers and the
# browser tests share one worker, one at a time: tests/conftest.py). With Chromium the
# browser tests run each notebook top to bottom in JupyterLab and fail on any error or
# stderr output, so nbval's own run of the masters is left out; without it nbval runs them.
test: setup lint $(if $(NPM),$(CACHE_TESTS),)
	@if [ -n "$(CHROMIUM)" ]; then echo "browser tests: on, with $(CHROMIUM) (they run every notebook)"; \
	else echo "browser tests: SKIPPED - no Chromium found (apt-get install chromium, or set SCALEKIT_CHROMIUM); nbval runs the notebooks"; fi
	$(BIN)/python -m pytest -n 2 --dist loadscope --nbval-lax --nbval-current-env tests \
		$(if $(CHROMIUM),,notebooks --ignore-glob='tests/test_browser_*.py')

student: setup
	$(BIN)/python -m scalekit.grading assign --remote $(REMOTE) --branch $(BRANCH) \
		$(if $(HUB),--hub "$(HUB)",)
	@mkdir -p build && touch $(STUDENT_STAMP)

publish: student
	$(BIN)/python -m scalekit.grading publish --branch $(BRANCH) --remote $(REMOTE)

links: setup
	$(BIN)/python -m scalekit.grading links --remote $(REMOTE) --branch $(BRANCH) \
		$(if $(HUB),--hub "$(HUB)",)

grade: setup
	@test -n "$(SUBMISSIONS)" || (echo "usage: make grade SUBMISSIONS=folder [NOTEBOOK=01_servers] [JOBS=2] [TIMEOUT_S=300]"; exit 2)
	$(BIN)/python -m scalekit.grading grade "$(SUBMISSIONS)" --out grades \
		$(if $(NOTEBOOK),--notebook $(NOTEBOOK),) $(if $(JOBS),-j $(JOBS),) \
		$(if $(TIMEOUT_S),--timeout-s $(TIMEOUT_S),)

bench: setup
	$(BIN)/python -m benchmarks

conformance: setup $(if $(NPM),$(CACHE_TESTS),)
	$(BIN)/python -m benchmarks.cache_tests

# `make test` repeats the same Hypothesis examples every run (tests/conftest.py); this runs the
# property tests ROUNDS times with new random ones, stopping at the first failure (Hypothesis
# prints the failing case and how to reproduce it: keep it as an @example, then fix it).
ROUNDS ?= 10
PROPERTY_TESTS = $(shell grep -l "@given" tests/test_*.py)
soak: setup
	@for round in $$(seq 1 $(ROUNDS)); do echo "soak round $$round of $(ROUNDS)"; \
		SCALEKIT_HYPOTHESIS=explore $(BIN)/python -m pytest -q -n 2 -p no:cacheprovider \
			-k "not walk_api" $(PROPERTY_TESTS) || exit 1; done

clean:
	rm -rf student instructor build grades .pytest_cache .ruff_cache
