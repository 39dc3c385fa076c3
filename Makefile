# One task runner for the README, CI and developers. Every target sets up .venv itself.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: install assets wheel run serve test test-postgres lint format schema bench bench-peer conformance clean

## GraphiQL's browser build (pinned in web/package-lock.json), served from the package offline.
GRAPHIQL_ASSETS := api/static/graphiql

$(GRAPHIQL_ASSETS)/VERSIONS: web/package.json web/package-lock.json web/copy-assets.sh
	cd web && npm ci --no-audit --no-fund --ignore-scripts --silent
	sh web/copy-assets.sh $(GRAPHIQL_ASSETS)

assets: $(GRAPHIQL_ASSETS)/VERSIONS

$(BIN)/.installed: pyproject.toml $(GRAPHIQL_ASSETS)/VERSIONS
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(BIN)/.installed

## A wheel holding the code, the migrations and GraphiQL's assets (what the Docker image installs).
wheel: install
	rm -rf dist
	$(BIN)/pip wheel -q --no-deps -w dist .

## Serve on the embedded SQLite default: migrate, seed demo data once, print a key, serve.
run: install
	$(BIN)/leadgraph quickstart

serve: install
	$(BIN)/leadgraph migrate
	$(BIN)/leadgraph serve

## The whole test suite (SQLite unless LEADGRAPH_TEST_DATABASE_URL names a PostgreSQL database).
test: install
	$(BIN)/pytest -q

test-postgres: install
	LEADGRAPH_TEST_DATABASE_URL=$${LEADGRAPH_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/leadgraph_test} $(BIN)/pytest -q

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: install
	$(BIN)/leadgraph export-schema

bench: install
	$(BIN)/python bench/nested_reads.py
	$(BIN)/python bench/record_interactions.py
	$(BIN)/python bench/capture.py
	$(BIN)/python bench/reports.py
	$(BIN)/python bench/rescore_models.py

## leadgraph and PostGraphile v5 side by side on the bench database (needs wrk, npm; not in CI).
bench-peer: install
	cd bench/postgraphile && npm install --no-audit --no-fund && npm install-scripts approve node && npm rebuild node
	$(BIN)/python bench/peer.py

## graphql-http's server audit against a real uvicorn (needs node and npm).
conformance: install
	bash conformance/run.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache conformance/node_modules web/node_modules $(GRAPHIQL_ASSETS) dist build
