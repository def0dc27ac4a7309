# Two commands for a fresh machine:
#   make book   creates .venv, installs everything, builds the site into _build/html
#   make test   the same set-up, then every test (utils, notebooks, book build, Colab-clean runs,
#               assignments and their grading)
# For instructors:
#   make assignments                      student releases and autograder bundles (_build/assignments)
#   make grade ASSIGNMENT=a1_vote_choice SUBMISSIONS=folder/ [OUT=gradebook]
#   make public PUBLIC=../course-public   the repository without the solutions, for students
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# pip constraints: the exact versions the tests ran with. `make test-full CONSTRAINTS=` in a
# new checkout installs the newest releases that requirements.txt allows instead, as students
# in Colab meet them first (the weekly workflow does this).
CONSTRAINTS ?= -c constraints.txt
# Debian packages: bubblewrap isolates each graded submission (see assignments/grading.py);
# chromium runs the browser tests of the site (tests/test_site_browser.py).
# Data sets that come as Debian packages (used when there is no network).
DEBIAN_DATA := dataset-fashion-mnist
DEBIAN_DATA_DIRS := /usr/share/datasets/fashion-mnist

.PHONY: book test test-full venv system-packages constraints clean assignments grade public

book: $(STAMP) assignments
	$(VENV)/bin/jupyter-book build . -n -W --keep-going
	@echo "The site is in _build/html/index.html"

# Fast mode (DL4SS_FAST) shrinks epochs and samples; DL4SS_OFFLINE makes every
# loader take its offline path, so results do not depend on the network.
test: $(STAMP) assignments
	DL4SS_FAST=1 DL4SS_OFFLINE=1 $(PY) -m pytest -p utils.kernel_messages tests chapters assignments \
	    --nbval-lax --nbval-current-env --nbval-cell-timeout=900 -v --durations=15

# Every chapter and assignment notebook in full mode, with downloads where there is a
# network (the weekly workflow runs this; it takes much longer than make test).
test-full: $(STAMP) assignments
	$(PY) tests/notebook_tools.py --execute --timeout=3600 chapters/*.ipynb $(wildcard assignments/a*/*.ipynb)

venv: $(STAMP)

# One authoring notebook per assignment -> student release, instructor bundle, book page.
assignments: $(STAMP)
	$(PY) assignments/release.py

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
	$(PY) assignments/grading.py grade $(ASSIGNMENT) $(SUBMISSIONS) --out $(OUT)

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
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
	    echo "note: no apt-get here; not installing$$missing (data will be downloaded instead)"; exit 0; fi; \
	sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	echo "Installing Debian packages:$$missing"; \
	$$sudo apt-get update -qq && $$sudo apt-get install -y -qq $$missing

# Refreshes the pins CI installs with (run after changing requirements.txt).
constraints: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | grep -v '^dl4ss-utils\|^fer==' > constraints.txt

clean:
	rm -rf _build test-artifacts assignments/pages
