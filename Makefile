# Closeloop — two commands: `make run` and `make test`. Needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint openapi bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

## Start embedded PostgreSQL + Redis (unless CLOSELOOP_DATABASE_URL/REDIS_URL are set), migrate,
## seed demo data (RUN_ARGS=--no-seed: none), run api + worker + notifier. Ctrl-C stops everything.
run: $(STAMP)
	CLOSELOOP_ALLOW_PRIVATE_WEBHOOKS=$${CLOSELOOP_ALLOW_PRIVATE_WEBHOOKS:-true} $(VENV)/bin/closeloop run $(RUN_ARGS)

## The whole test suite against real PostgreSQL and Redis (embedded unless URLs are given).
## pytest's exit code 5 (no tests collected) is a failure here, not a green run.
test: $(STAMP)
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests — failing"; exit 1; fi; exit $$rc

## ruff (lint + format) and mypy over the packages: CI runs it before the tests.
lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy shared services

openapi: $(STAMP)
	$(VENV)/bin/closeloop openapi

## Every benchmark (bench/seed.py, load.py and stack.py are the pieces they share, not benchmarks).
BENCH_PARTS := bench/seed.py bench/load.py bench/stack.py
bench: $(STAMP)
	@for b in $(filter-out $(BENCH_PARTS),$(wildcard bench/*.py)); do $(PY) $$b; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
