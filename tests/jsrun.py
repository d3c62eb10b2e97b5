"""Evaluate the JavaScript gen puts in `${...}` with node, the way Digdag evaluates it.

Digdag's engine exposes `moment` and the workflow's params (`session_time`, `i`, `gen_tz`); the
generated expressions use moment only to read session_time, so a one-line shim stands in for it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

_HARNESS = r"""
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const moment = (s) => ({ valueOf: () => Date.parse(s) });
const out = cases.map((c) => {
  const body = c.expr.slice(2, -1);
  const f = new Function('moment', 'session_time', 'i', 'gen_tz', 'return (' + body + ');');
  return String(f(moment, c.session_time, c.i, c.gen_tz));
});
process.stdout.write(JSON.stringify(out));
"""


def node_eval(cases: list[dict[str, Any]]) -> list[str]:
    """Evaluate [{expr, session_time, i, gen_tz}] and return the string results."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required to evaluate the generated JavaScript (it ships with this machine kind)")
    done = subprocess.run([node, "-e", _HARNESS], input=json.dumps(cases), capture_output=True, text=True,
                          timeout=300, check=False)
    if done.returncode != 0:
        raise AssertionError(f"node failed: {done.stderr[-2000:]}")
    return list(json.loads(done.stdout))
