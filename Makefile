# Cowrite — the commands the README names. `make run` and `make test` each set up what
# they need first (a virtualenv with the pinned requirements, and for tests, chromium).

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test setup setup-dev chromium lint format migrations-check serve clean

$(VENV)/.run-installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.run-installed requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

setup: $(VENV)/.run-installed
setup-dev: $(VENV)/.dev-installed

## make run: set up, migrate, seed a demo (empty embedded database only), serve on :8000.
run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py collectstatic --noinput -v0
	@echo "Cowrite is at http://$(HOST):$(PORT)/"
	$(MAKE) --no-print-directory serve

serve:
	# Daphne caps websocket messages at 1 MiB; a Yjs sync of a long scene can be larger.
	$(BIN)/daphne -b $(HOST) -p $(PORT) --websocket_max_message_size 16777216 cowrite.asgi:application

## make test: set up (venv, chromium), check migrations, run the whole suite.
test: setup-dev chromium
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

chromium:
	@scripts/ensure_chromium.sh

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
