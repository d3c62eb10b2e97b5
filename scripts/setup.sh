#!/usr/bin/env bash
# Set up everything gen's example run and test suite need, on a fresh machine, idempotently:
# a virtualenv (.venv) with gen, dbt-core, dbt-duckdb and the test tools; helm and kubectl.
# Digdag itself is installed by scripts/install-digdag.sh (make setup-digdag).
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
# Byte-compile gen as installing a wheel does: an editable install leaves that to the first import,
# which never happens where PYTHONDONTWRITEBYTECODE is set (every run would compile gen again).
.venv/bin/python -m compileall -q gen >/dev/null
bash scripts/install-kube-tools.sh
# Graphviz renders `gen graph --format svg|png` (tests use it); Debian's package.
if ! command -v dot >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "setup: installing graphviz" >&2
    apt-get update -qq >/dev/null && apt-get install -y -qq graphviz >/dev/null
  fi
  command -v dot >/dev/null || { echo "setup: graphviz (dot) is missing; install it (apt-get install graphviz)" >&2; exit 1; }
fi
# The example project's local dbt package (dbt/digdag_session) is linked into dbt_packages/.
(cd examples/shop && ../../.venv/bin/dbt deps --quiet >/dev/null) || { echo "setup: dbt deps failed in examples/shop" >&2; exit 1; }
# Prove every tool runs, so a broken install fails here and not halfway through the tests.
.venv/bin/gen --version >/dev/null
.venv/bin/dbt --version >/dev/null
.tools/bin/helm version --short >/dev/null
.tools/bin/kubectl version --client >/dev/null 2>&1
command -v node >/dev/null || { echo "setup: node not found (tests evaluate the generated JavaScript with it)" >&2; exit 1; }
echo "setup: ready (.venv with gen and dbt; .tools/bin: helm kubectl). Digdag: make setup-digdag" >&2
