# The two commands: `make run` and `make test`. Both set everything up themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run demo-reset test chromium bench bench-quick chaos chaos-quick clean

# The test extra pulls the harness extra, which make bench and make chaos need too.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

## Run web, worker, beat (and an embedded Redis if none answers) on the defaults.
# Debug is off unless switched on; on a developer's machine make run switches it on,
# with the development key (and so the demo): project/settings/local.py, unless the
# environment says otherwise.
run: export DJANGO_SETTINGS_MODULE ?= project.settings.local
run: install
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_programs
	$(BIN)/python manage.py seed_demo --if-empty
	PATH="$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

## Empty the database (DATABASE_URL, the SQLite file under var/ by default) and seed a fresh demo.
demo-reset: export DJANGO_SETTINGS_MODULE ?= project.settings.local
demo-reset: install
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py flush --noinput
	$(BIN)/python manage.py load_programs
	$(BIN)/python manage.py seed_demo

## Debian's chromium for the browser tests (never a downloaded browser); needs root.
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "chromium is missing and this is not root: the browser tests will be skipped"; fi; }

## The whole test suite, on DATABASE_URL (SQLite under var/ when unset).
test: install chromium
	mkdir -p var
	$(BIN)/lint-imports
	$(BIN)/pytest

# The benchmarks make their own PostgreSQL database anew and wipe their own Redis db.
# The commands of make bench and make chaos come with the harness app, which only
# project.settings.harness (and the tests' settings) install.
HARNESS_SETTINGS := project.settings.harness
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/12
BENCH_ENV = DJANGO_SETTINGS_MODULE=$(HARNESS_SETTINGS) DATABASE_URL="$(BENCH_DATABASE_URL)" \
	REDIS_URL="$(BENCH_REDIS_URL)" DJANGO_DEBUG=false DJANGO_SECRET_KEY=bench-only-not-a-secret-0123456789 \
	LOG_LEVEL=WARNING

## The nine figures of issues 6 and 15 on PostgreSQL, Redis and real worker and beat processes; writes BENCHMARKS.md.
bench: install
	mkdir -p var
	$(BENCH_ENV) $(BIN)/python manage.py bench --markdown BENCHMARKS.md

## The same with sizes cut about 100 times: proves in CI that the benchmarks still run.
bench-quick: install
	mkdir -p var
	$(BENCH_ENV) $(BIN)/python manage.py bench --quick

## Fault scenarios on real processes (Celery worker and beat, Redis, PostgreSQL, the fake
## Twilio server), about 2,000 messages each; the results go into RELIABILITY.md.
## Needs PostgreSQL (CHAOS_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/chaos)
## and redis-server.
# The command itself needs a key now that debug is off by default; the processes it
# starts get their own settings from the harness.
chaos chaos-quick: export DJANGO_SETTINGS_MODULE = $(HARNESS_SETTINGS)
chaos chaos-quick: export DJANGO_SECRET_KEY ?= chaos-only-not-a-secret-0123456789
chaos: install
	mkdir -p var
	$(BIN)/python manage.py chaos --report RELIABILITY.md

## The same six scenarios with a few hundred messages each and short leases (CI, about 2 minutes).
chaos-quick: install
	mkdir -p var
	$(BIN)/python manage.py chaos --quick

clean:
	rm -rf $(VENV) var .pytest_cache
