#!/usr/bin/env bash
# Set up everything gen's example run and test suite need, on a fresh machine, idempotently:
# a virtualenv (.venv) with gen, dbt-core, dbt-duckdb and the test tools; helm and kubectl; Digdag.
# Fails loudly when something cannot be installed: CI must never run with a tool missing.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || { echo "setup: $PYTHON not found (need Python >= 3.11)" >&2; exit 1; }
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "setup: $PYTHON is older than 3.11" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.gen-setup-stamp
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing gen with dbt and test dependencies into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[dbt,test]'
  echo "$want" > "$stamp"
fi
bash scripts/install-kube-tools.sh
bash scripts/install-digdag.sh
# Prove every tool runs, so a broken install fails here and not halfway through the tests.
.venv/bin/gen --version >/dev/null
.venv/bin/dbt --version >/dev/null
.tools/bin/helm version --short >/dev/null
.tools/bin/kubectl version --client >/dev/null 2>&1
test -x .tools/bin/digdag
echo "setup: ready (.venv, .tools/bin: helm kubectl digdag)" >&2
