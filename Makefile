# mvcontrol — everything a fresh machine with Python >= 3.11 needs, in two commands:
#   make run    set up, migrate and serve the demo (embedded PostgreSQL + device emulators)
#   make test   set up, then lint, migration check and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# HOST=0.0.0.0 serves the demo to the other PCs on the LAN too (it prints the addresses).
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Parallel test workers (pytest-xdist); 0 runs in one process.
TEST_WORKERS ?= 2

.PHONY: run test venv lint check migrate db-stop clean bench browser

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

# The browser tests (tests/browser) drive Debian's Chromium, not a downloaded one. Installed here
# when missing and possible (root with apt-get); otherwise those tests skip with one line.
CHROMIUM_PATH ?= /usr/bin/chromium
browser:
	@if [ ! -x "$(CHROMIUM_PATH)" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Chromium for the browser tests (apt-get install chromium)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null 2>&1 \
		     && apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; } \
		|| echo "Could not install Chromium: the browser tests will be skipped"; \
	fi

test: lint check browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# Every bench runs even when an earlier one misses a target; the exit status says if any did.
BENCHES := quartz refresh notify api_load live protection
bench: migrate
	@status=0; for b in $(BENCHES); do echo "== bench/$$b.py"; \
		$(BIN)/python bench/$$b.py || status=1; done; exit $$status

db-stop: $(STAMP)
	$(BIN)/python manage.py embedded_db stop

clean: db-stop
	rm -rf $(VENV) var
