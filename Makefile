# The two entry points of the README: `make demo` and `make test`. Both set everything up
# from a fresh clone: the virtual environment, the install, and the database migrations.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint check-schema pytest clean

$(STAMP): pyproject.toml
	@echo "== setting up $(VENV) (Python: $$($(PYTHON) --version)) =="
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/microcred demo
	$(BIN)/microcred serve --host $${HOST:-127.0.0.1} --port $${PORT:-8000}

test: $(STAMP) lint check-schema pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check-schema: $(STAMP)
	@$(BIN)/microcred schema | diff -u schema.graphql - \
		|| (echo "schema.graphql is out of date: run '$(BIN)/microcred schema > schema.graphql'"; exit 1)

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
