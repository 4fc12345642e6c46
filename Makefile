# mvcontrol — everything a fresh machine with Python >= 3.11 needs, in two commands:
#   make run    set up, migrate and serve the demo (embedded PostgreSQL + device emulators)
#   make test   set up, then lint, migration check and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Parallel test workers (pytest-xdist); 0 runs in one process.
TEST_WORKERS ?= 2

.PHONY: run test venv lint check migrate db-stop clean bench

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "mvcontrol needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $(STAMP)

venv: $(STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py run_demo --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .

check: $(STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py check

test: lint check
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

bench: migrate
	$(BIN)/python bench/quartz.py
	$(BIN)/python bench/refresh.py

db-stop: $(STAMP)
	$(BIN)/python manage.py embedded_db stop

clean: db-stop
	rm -rf $(VENV) var
