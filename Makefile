# make demo  - run the example site on SQLite + the sandbox gateway, http://127.0.0.1:8000
# make test  - the whole suite (SQLite; again on PostgreSQL when DATABASE_URL is set)
# make bench - the benchmarks
# make soak  - only the slow forms (-m slow: fuzzing, every database fault) on PostgreSQL; CI may skip it
# make lint  - ruff and mypy

SHELL := /bin/bash
VENV ?= .venv
# The newest Python >= 3.12 on this machine (PATH, then pyenv), else python3.
PYTHON ?= $(shell tools/find-python)
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test test-compat bench soak lint messages clean venv browser

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,lint]"
	@touch $(STAMP)

demo: $(STAMP)
	cd example_project && ../$(PY) manage.py migrate --noinput
	cd example_project && ../$(PY) manage.py demo_setup
	cd example_project && ../$(PY) manage.py runserver 127.0.0.1:8000

# Debian's chromium for the browser tests (skipped, saying why, where it cannot be installed).
browser:
	@tools/install-browser

test: $(STAMP) browser
	env -u DATABASE_URL -u REDIS_URL -u AMQP_URL $(PY) -m pytest $(PYTEST_ARGS)
	@if [ -n "$$DATABASE_URL" ]; then \
	  echo "== again on $${DATABASE_URL%%://*} =="; \
	  $(PY) -m pytest $(PYTEST_ARGS); \
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

test-compat: $(COMPAT_STAMP) browser
	$(COMPAT_VENV)/bin/python -m pytest $(PYTEST_ARGS)

# On PostgreSQL (the benchmarks skip, saying so, without it), in a test database of their own.
bench: $(STAMP)
	@if [ -z "$$DATABASE_URL" ] && pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then \
	  export DATABASE_URL=postgres://postgres@127.0.0.1:5432/test; fi; \
	export HUYI_TEST_DB_NAME=$${HUYI_TEST_DB_NAME:-test_bench}; \
	$(PY) -m pytest benchmarks -s --timeout=0 $(PYTEST_ARGS)

# The slow forms of the suites (make test runs them too, with the rest), on their own and on
# PostgreSQL when it answers, in a test database of their own.
soak: $(STAMP)
	@if [ -z "$$DATABASE_URL" ] && pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then \
	  export DATABASE_URL=postgres://postgres@127.0.0.1:5432/test; fi; \
	if [ -z "$$DATABASE_URL" ]; then echo "no PostgreSQL here: the soak runs on SQLite"; fi; \
	export HUYI_TEST_DB_NAME=$${HUYI_TEST_DB_NAME:-test_soak}; \
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

messages: $(STAMP)
	cd django_huyi_sms && ../$(PY) -m django makemessages -l zh_Hans -l en --settings=tests.settings --pythonpath=..
	cd django_huyi_sms && ../$(PY) -m django compilemessages --settings=tests.settings --pythonpath=..

clean:
	rm -rf $(VENV) $(COMPAT_VENV) .pytest_cache .hypothesis build dist *.egg-info
