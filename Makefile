# Entry points named in the README. Every target sets up what it needs first (scripts/setup.sh is idempotent).
SHELL := /bin/bash
VENV := .venv/bin
EXAMPLE := examples/shop
export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/$(VENV):$(PATH)

.PHONY: setup setup-digdag setup-kube example check graph test test-compat test-digdag lint goldens bench clean

setup:
	bash scripts/setup.sh

## Digdag 0.10.5.1 from Maven Central (plus ../shared/digdag/m2 when present); fails loudly (see README).
setup-digdag: setup
	bash scripts/install-digdag.sh

## The Kubernetes control plane tests/kube runs against (etcd, kube-apiserver, controller-manager, scheduler,
## KWOK), built with `go` once into ~/.cache/gen/kube and reused after; fails loudly (see README).
setup-kube: setup
	bash scripts/install-kube-cluster.sh >/dev/null

## Generate out/ from the bundled example dbt project (dbt parse through dbt-core, then gen workflows).
example: setup
	$(VENV)/gen workflows --parse --project-dir $(EXAMPLE) --out out

## Fail when the committed out/ is not what generation produces now.
check: setup
	$(VENV)/gen workflows --parse --project-dir $(EXAMPLE) --out out --check

## Redraw docs/graph.md, the Mermaid picture of the example's workflows (`gen graph --format markdown`).
graph: setup
	$(VENV)/gen graph --parse --project-dir $(EXAMPLE) --format markdown -o docs/graph.md

## The whole test suite: real dbt, helm, kubectl and Digdag (check, run, server). Nothing is deselected
## but the compatibility corpus, which lives outside the repository (test-compat).
test: setup-digdag setup-kube
	$(VENV)/pytest -q -m "not compat"

## The compatibility tests over the real manifests of dbt 1.0-1.12 in ../shared/fixtures (fails without them).
test-compat: setup-digdag
	$(VENV)/pytest -q -m compat

## Only the Digdag-in-the-loop tests.
test-digdag: setup-digdag
	$(VENV)/pytest -q tests/digdag

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
