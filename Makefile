# The README's commands. `make demo` and `make test` each set up .venv first; `make lint`
# runs ruff (pinned in the test extra), as CI does.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint setup clean bench robustness

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/lstmkit poem -n 3

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts

bench: $(STAMP)
	$(BIN)/python bench/compare.py

# The long robustness run (10,000 fuzz cases, 50 kills, ...): writes RELIABILITY.md.
robustness: $(STAMP)
	LSTMKIT_ROBUSTNESS=long $(BIN)/python scripts/robustness.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
