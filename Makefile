# Cowrite — the commands the README names. `make run` and `make test` each set up what
# they need first (a virtualenv with the pinned requirements, and for tests, chromium).

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test setup setup-dev chromium lint format migrations-check serve clean js

EDITOR_SRC := $(wildcard static/src/editor/*.js)

$(VENV)/.run-installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.run-installed requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The live editor bundle (CodeMirror 6 + Yjs), built with esbuild; not committed.
static/dist/editor.js: node_modules/.installed $(EDITOR_SRC) scripts/check_bundle.mjs
	npm run build --silent

js: static/dist/editor.js

setup: $(VENV)/.run-installed js
setup-dev: $(VENV)/.dev-installed js

## make run: set up, migrate, seed a demo (empty embedded database only), serve on :8000.
## Quiet: a line per phase (README: Console); `make run VERBOSE=1` (or COWRITE_VERBOSE=1)
## shows every command and its output, the background jobs and every request.
run: export COWRITE_VERBOSE := $(filter-out 0,$(or $(VERBOSE),$(COWRITE_VERBOSE)))
run:
	@if [ -n "$$COWRITE_VERBOSE" ]; then \
	  set -x; \
	  $(MAKE) --no-print-directory setup && \
	  $(BIN)/python manage.py migrate --noinput && \
	  $(BIN)/python manage.py collectstatic --noinput -v0; \
	else \
	  printf '%s' "Setting up (the first time installs the Python and npm packages: minutes)… "; \
	  log=$$(mktemp); \
	  if { $(MAKE) --no-print-directory -s setup && \
	       $(BIN)/python manage.py migrate --noinput -v0 && \
	       $(BIN)/python manage.py collectstatic --noinput -v0; } >"$$log" 2>&1; then \
	    rm -f "$$log"; echo "done."; \
	  else \
	    echo "failed:"; cat "$$log"; rm -f "$$log"; exit 1; \
	  fi; \
	fi
	@$(BIN)/python manage.py fetch_bootstrap_corpus
	@$(BIN)/python manage.py seed_demo
	@$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

serve:
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

## make test: set up (venv, chromium), check migrations, run the whole suite.
test: setup-dev chromium
	$(BIN)/python manage.py makemigrations --check --dry-run
	npm test --silent
	$(BIN)/pytest $(PYTEST_ARGS)

chromium:
	@scripts/ensure_chromium.sh

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: setup-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .import_linter_cache node_modules static/dist
