# make run: install, migrate, seed, serve on http://127.0.0.1:8000 (SQLite in instance/);
#   without STRIPE_SECRET_KEY, payments go to a fake Stripe (localstripe) on loopback.
# make test: install dev requirements, lint (ruff), run the suite on SQLite, then on PostgreSQL.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
export FLASK_APP := wsgi:app

.PHONY: install install-dev migrate seed run lint test test-sqlite test-postgresql bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/flask db upgrade

seed: migrate
	$(BIN)/flask seed

run: seed
	@if [ -z "$$STRIPE_SECRET_KEY" ]; then $(MAKE) --no-print-directory install-dev; fi
	$(BIN)/python -m shop.payments.devstripe run -- $(BIN)/flask run --host 127.0.0.1 --port 8000

lint: install-dev
	$(BIN)/ruff check .

test: install-dev
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgresql

test-sqlite: install-dev
	SHOP_TEST_DB=sqlite $(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-postgresql: install-dev
	SHOP_TEST_DB=postgresql $(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

bench: install-dev
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance/*.sqlite3 .pytest_cache
