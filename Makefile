# Two commands on a fresh machine: `make run` and `make test` (see README).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)
# The public port (Pushpin) and Django's own, behind it.
PUBLIC_PORT ?= 8000
WEB_PORT ?= 8001

export WEB_BIND := 127.0.0.1:$(WEB_PORT)
export DEVSTACK_PUSHPIN_PORT := $(PUBLIC_PORT)
export DEVSTACK_PUSHPIN_ORIGIN := $(WEB_BIND)

.PHONY: help venv messages translations services tools bench-tools migrate topics run test chaos lint stop clean status

help:
	@echo "make run       set everything up and run the platform on http://localhost:$(PUBLIC_PORT) (Pushpin -> web, worker, beat, consumer)"
	@echo "make test      set everything up and run the whole test suite"
	@echo "make services  start PostgreSQL :54329, Redis :63799, Kafka :29092, Pushpin :$(PUBLIC_PORT) only"
	@echo "make bench-tools  start the services and install the benchmarks' tools (wrk); then see README, Benchmarks"
	@echo "make chaos     the chaos run: the platform on a stack of its own, faults injected under load (CHAOS_ARGS=\"--seed N\")"
	@echo "make translations  after changing a text: add it to the Korean catalogue (locale/ko) to translate"
	@echo "make stop      stop the services this project started"
	@echo "make clean     stop, then delete .devstack/ (all local data) and .venv/"

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; install Python 3.11+ or pass PYTHON=/path/to/python3.11" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "make: $(PYTHON) is older than 3.11; pass PYTHON=/path/to/python3.11" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "make: installing Python requirements into $(VENV)"
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt \
	  || { echo "make: pip install failed (PyPI unreachable?); check the network or a PIP_INDEX_URL mirror, then rerun" >&2; exit 1; }
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

# This checkout's local settings (git-ignored), read by prepaid/settings.py in every shell:
# a generated SECRET_KEY and DEBUG on. The environment wins over it; tests and benchmarks
# set their own. Delete it to get a new key.
.env:
	@$(PYTHON) -c 'import secrets; print(f"SECRET_KEY={secrets.token_urlsafe(50)}"); print("DEBUG=1")' > .env
	@echo "make: wrote .env (a generated SECRET_KEY and DEBUG=1, for local development)"

venv: $(STAMP) .env messages

# The message catalogues (Korean first, locale/ko), compiled from their .po files (the .mo are not kept in git).
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/*.po))
messages: $(CATALOGUES)

# After changing a text in the code: its entry in the Korean catalogue, to translate.
translations: $(STAMP)
	@scripts/devstack.sh gettext
	@$(PY) manage.py makemessages -l ko --no-location -v 0 --ignore '.venv*' --ignore .devstack --ignore bench \
	  --ignore 'tests/*' --ignore '*/tests/*' --ignore '*/migrations/*'
	@echo "make: locale/ko/LC_MESSAGES/django.po updated; translate its empty and fuzzy entries"

locale/%.mo: locale/%.po $(STAMP)
	@scripts/devstack.sh gettext
	@$(PY) manage.py compilemessages -v 0 -l $(word 2,$(subst /, ,$@)) --ignore '.venv*' --ignore .devstack

services: venv
	@scripts/devstack.sh start

tools:
	@scripts/devstack.sh tools

bench-tools: services
	@scripts/devstack.sh bench-tools

migrate: services
	@$(PY) manage.py migrate --no-input -v 0

topics: services
	@$(PY) manage.py kafka_create_topics

run: migrate topics
	@scripts/devstack.sh check-free-port $(WEB_PORT) WEB_PORT
	@scripts/devstack.sh start prometheus
	@rm -rf .devstack/metrics && mkdir -p .devstack/metrics  # this run's metrics, from zero
	@echo "make: platform on http://localhost:$(PUBLIC_PORT) (admin /admin/, API docs /api/docs/); Ctrl-C stops it"
	@$(VENV)/bin/honcho start -f Procfile

test: services tools
	@$(VENV)/bin/ruff check .
	@$(PY) -m pytest

# The full chaos run (bench/chaos/; `make test` runs its short version). It starts and stops its own
# PostgreSQL, Redis, Kafka and Pushpin in .devstack/chaos/, on other ports than make run's.
CHAOS_ARGS ?=
chaos: venv
	@$(PY) -m bench.chaos $(CHAOS_ARGS)

lint: venv
	@$(VENV)/bin/ruff check .

status:
	@scripts/devstack.sh status

stop:
	@scripts/devstack.sh stop

clean: stop
	rm -rf .devstack $(VENV) .venv-peer
