# Entry points named in the README. Every target sets up what it needs first (scripts/setup.sh is idempotent).
SHELL := /bin/bash
VENV := .venv/bin
EXAMPLE := examples/shop

.PHONY: setup example check test lint goldens bench clean

setup:
	bash scripts/setup.sh

## Generate out/ from the bundled example dbt project (dbt parse through dbt-core, then gen workflows).
example: setup
	$(VENV)/gen workflows --parse --project-dir $(EXAMPLE) --out out

## Fail when the committed out/ is not what generation produces now.
check: setup
	$(VENV)/gen workflows --parse --project-dir $(EXAMPLE) --out out --check

## The whole test suite, with real dbt, Digdag and helm.
test: setup
	PATH="$(CURDIR)/.tools/bin:$$PATH" $(VENV)/pytest -q

lint: setup
	$(VENV)/ruff check gen tests bench
	$(VENV)/mypy

## Rewrite the committed golden trees under tests/golden/ (review the diff before committing).
goldens: setup
	$(VENV)/python -m tests.regen_goldens

bench: setup
	$(VENV)/python bench/run.py

clean:
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache
