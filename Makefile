# make run  — virtual environment, install, migrate, seed the demo, serve on 127.0.0.1:8000 with a worker
# make test — lint, types and the whole test suite (SQLite by default; DATABASE_URL/REDIS_URL switch it)
SHELL := /bin/sh
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_WORKERS ?= 2

.PHONY: run test venv lint types pytest clean

$(BIN)/.installed: pyproject.toml
	@PY=$$(scripts/find-python) || exit 1; \
	  [ -x $(BIN)/python ] || "$$PY" -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(BIN)/.installed

run: venv
	$(BIN)/lingjing migrate --noinput
	$(BIN)/lingjing demo
	$(BIN)/lingjing serve --host $(HOST) --port $(PORT)

lint: venv
	$(BIN)/ruff check .

types: venv
	$(BIN)/mypy lingjing

pytest: venv
	LINGJING_ENV=test $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

test: lint types pytest

clean:
	rm -rf $(VENV) var build *.egg-info
