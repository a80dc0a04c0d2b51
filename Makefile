# The two commands a newcomer needs: `make run` and `make test`. Both set up everything they use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCAL := .local
HOST ?= 127.0.0.1
PORT ?= 8080
export HELPLINE_TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

.PHONY: run test lint typecheck pytest catalogs extract bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

$(LOCAL)/secret_key:
	mkdir -p $(LOCAL)
	$(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(48))' > $@
	chmod 600 $@

catalogs: $(STAMP)
	$(BIN)/helpline compile-catalogs

# Development server: SQLite in .local/, a generated local secret, the web chat at /chat.
run: $(STAMP) $(LOCAL)/secret_key catalogs
	HELPLINE_ENV=development \
	HELPLINE_SECRET_KEY="$$(cat $(LOCAL)/secret_key)" \
	HELPLINE_DATABASE_URL="$${HELPLINE_DATABASE_URL:-sqlite+aiosqlite:///$(LOCAL)/helpline.db}" \
	$(BIN)/helpline serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) catalogs
	$(BIN)/pytest -q -rs -p no:cacheprovider

test: lint typecheck pytest

# Update the templates and the catalogs after texts changed in the code; then translate the new entries.
extract: $(STAMP)
	$(BIN)/pybabel extract -F locales/babel.cfg -k Nn_:1,2 --no-location --sort-output --project helpline-intake --version 0.1.0 -o locales/helpline.pot intake bots
	$(BIN)/pybabel update -i locales/helpline.pot -d locales -D helpline --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel extract -F locales/console.cfg --no-location --sort-output --project helpline-intake --version 0.1.0 -o locales/console.pot bots/console
	for lang in nb en; do $(BIN)/pybabel update -i locales/console.pot -d locales -D console -l $$lang --no-fuzzy-matching --ignore-obsolete; done

# Options go in BENCH_ARGS, e.g. make bench BENCH_ARGS='--copies 1,2,3 --users 200' (bench/README.md).
bench: $(STAMP) catalogs
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.report_timing

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
