# make demo  - run the example site on SQLite + the sandbox gateway, http://127.0.0.1:8000 (PORT=8123: another port)
# make test  - the whole suite (SQLite; again on PostgreSQL when DATABASE_URL is set)
# make test-compat - the oldest supported pair, Django 5.2 LTS on Python 3.11 (SQLite, PostgreSQL)
# make bench - every benchmark: each ratio against its target, the results in docs/benchmarks.md
# make bench-quick - every benchmark at smoke-test sizes, in a few minutes
# make soak  - the slow forms (-m slow: fuzzing, every database fault) and receipts at 500/s for a minute, on PostgreSQL
# make lint  - ruff and mypy
# make dist  - the sdist and the wheel in dist/, checked by twine
# make docs  - the docs site in site/ (MkDocs, strict: a broken link or anchor fails), and docs/openapi.yaml

SHELL := /bin/bash
VENV ?= .venv
# The newest Python >= 3.12 on this machine (PATH, then pyenv), else python3.
PYTHON ?= $(shell tools/find-python)
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= dev,lint
PYTEST_ARGS ?=
# Tests that exercise the whole site the same way whatever the database or version: the
# browser tests, the built package and the docs. They run in the first (SQLite) pass only.
ONCE := browser or packaging or docs
# make demo's port. The example's settings read it (DEMO_PORT) to say where the sandbox pushes receipts.
PORT ?= 8000

.PHONY: demo test test-sqlite test-pg test-compat bench bench-quick soak lint messages clean venv browser docs docs-serve dist

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	@touch $(STAMP)

DEMO_MANAGE = cd example_project && DEMO_PORT=$(PORT) ../$(PY) manage.py

demo: $(STAMP)
	$(DEMO_MANAGE) migrate --noinput
	$(DEMO_MANAGE) demo_setup
	$(DEMO_MANAGE) runserver 127.0.0.1:$(PORT)

# Debian's chromium for the browser tests (skipped, saying why, where it cannot be installed).
browser:
	@tools/install-browser

test: test-sqlite test-pg

# Everything on SQLite and the local-memory cache; with DATABASE_URL set, the slow forms (fuzzing,
# every database fault) are left to the PostgreSQL pass, where the reliability suites must hold.
test-sqlite: $(STAMP) browser
	env -u DATABASE_URL -u REDIS_URL -u AMQP_URL $(PY) -m pytest $${DATABASE_URL:+-m "not slow"} $(PYTEST_ARGS)

# Again on PostgreSQL + Redis when DATABASE_URL is set (.ci/run sets it), but for the ONCE tests.
test-pg: $(STAMP)
	@if [ -n "$$DATABASE_URL" ]; then \
	  echo "== again on $${DATABASE_URL%%://*}, $$($(PY) -c 'import sys, django; print(f"Python {sys.version.split()[0]}, Django {django.__version__}")') =="; \
	  $(PY) -m pytest -m "not ($(ONCE))" $(PYTEST_ARGS); \
	fi

lint: $(STAMP)
	$(PY) -m ruff check django_huyi_sms tests benchmarks example_project
	$(PY) -m mypy

# The oldest supported pair: Django 5.2 LTS on Python 3.11.
COMPAT_VENV := .venv-django52
COMPAT_STAMP := $(COMPAT_VENV)/.installed

$(COMPAT_STAMP): pyproject.toml
	@test -x $(COMPAT_VENV)/bin/python || python3 -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COMPAT_VENV)/bin/python -m pip install --quiet -e ".[dev]" "Django>=5.2,<5.3"
	@touch $(COMPAT_STAMP)

# SQLite, then PostgreSQL when DATABASE_URL is set; the ONCE tests and the long fuzz runs ran already.
test-compat: $(COMPAT_STAMP)
	@echo "== Django 5.2 on Python 3.11, SQLite =="
	env -u DATABASE_URL -u REDIS_URL -u AMQP_URL $(COMPAT_VENV)/bin/python -m pytest -m "not ($(ONCE) or slow)" $(PYTEST_ARGS)
	@if [ -n "$$DATABASE_URL" ]; then \
	  echo "== Django 5.2 on Python 3.11, $${DATABASE_URL%%://*} =="; \
	  $(COMPAT_VENV)/bin/python -m pytest -m "not ($(ONCE) or slow)" $(PYTEST_ARGS); \
	fi

# The bench extra (gunicorn for the receipt benchmark, django-phone-verify for the codes') on top.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[$(EXTRAS),bench]"
	@touch $(BENCH_STAMP)

# On PostgreSQL and Redis (a benchmark that needs one skips, saying so, without it), in a test
# database of their own. At the end: every ratio with its target and whether it holds, and the
# results in docs/benchmarks.md (benchmarks/report.py). BENCH_REDIS: the broker (db 13 by default).
BENCH_RUN = if [ -z "$$DATABASE_URL" ] && pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then \
	  export DATABASE_URL=postgres://postgres@127.0.0.1:5432/test; fi; \
	export HUYI_TEST_DB_NAME=$${HUYI_TEST_DB_NAME:-test_bench}; \
	$(PY) -m pytest benchmarks -s --timeout=0

bench: $(BENCH_STAMP)
	@$(BENCH_RUN) $(PYTEST_ARGS)

# Every benchmark at smoke-test sizes (BENCH_QUICK=1), the soak left out: a few minutes, to see them
# work. Its figures mean nothing, so it writes test-artifacts/benchmarks.md, not docs/.
bench-quick: $(BENCH_STAMP)
	@export BENCH_QUICK=1; $(BENCH_RUN) -m "not slow" $(PYTEST_ARGS)

# The slow forms of the suites (make test runs them too, with the rest) and the receipt soak
# (500/s for 60 s through gunicorn), on PostgreSQL when it answers, in a test database of their own.
soak: $(BENCH_STAMP)
	@if [ -z "$$DATABASE_URL" ] && pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then \
	  export DATABASE_URL=postgres://postgres@127.0.0.1:5432/test; fi; \
	if [ -z "$$DATABASE_URL" ]; then echo "no PostgreSQL here: the soak runs on SQLite"; fi; \
	export HUYI_TEST_DB_NAME=$${HUYI_TEST_DB_NAME:-test_soak}; \
	HUYI_FUZZ_FULL=1 $(PY) -m pytest -m slow $(PYTEST_ARGS) && \
	$(PY) -m pytest benchmarks/test_receipts.py -m slow -s --timeout=0 $(PYTEST_ARGS)

# The docs extra (MkDocs, Material, drf-spectacular for the schema) on top of the dev virtualenv.
DOCS_STAMP := $(VENV)/.docs-installed
# Material's banner about MkDocs 2 is not a warning of ours.
MKDOCS := NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs

$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[docs]"
	@touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(PY) tools/openapi-schema docs/openapi.yaml
	$(MKDOCS) build --strict

docs-serve: $(DOCS_STAMP)
	$(MKDOCS) serve

# build and twine come with the dev extra. The build runs in an isolated environment, as a
# release's would (it fetches setuptools); the tests build without one (tests/wheel_helpers.py).
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(PY) -m twine check --strict dist/*

messages: $(STAMP)
	cd django_huyi_sms && ../$(PY) -m django makemessages -l zh_Hans -l en --settings=tests.settings --pythonpath=..
	cd django_huyi_sms && ../$(PY) -m django compilemessages --settings=tests.settings --pythonpath=..

clean:
	rm -rf $(VENV) $(COMPAT_VENV) .venv-py312 .pytest_cache .hypothesis build dist site *.egg-info
