"""Evaluate the expressions gen puts in `${...}` with node, the way Digdag's engine does: moment.js as
Digdag ships it, the case's variables in scope, under a local timezone that is neither UTC nor the
workflow's (Digdag's engine runs in the workflow's zone; nothing may depend on it). A fast pre-check over
many cases; the real Digdag evaluates them in tests/digdag/test_session_time.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.session_cases import Case, as_json, digdag_moment_js, library_params

_HARNESS = r"""
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const moment = new Function('var module, exports, define; ' + input.moment + '; return this.moment;').call({});
const out = input.cases.map((c) => {
  const vars = Object.assign({}, input.params, {session_time: c.session_time, i: c.i,
                                                  last_session_time: c.last_session_time});
  const f = new Function('moment', 'vars', 'with (vars) { return (' + c.expr.slice(2, -1) + '); }');
  return String(f(moment, vars));
});
process.stdout.write(JSON.stringify(out));
"""


def node_eval(cases: list[Case]) -> list[str]:
    """The string each case's expression gives."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required to evaluate the generated JavaScript (it ships with this machine kind)")
    payload = json.dumps({"moment": digdag_moment_js(), "params": library_params(),
                          "cases": json.loads(as_json(cases))})
    done = subprocess.run([node, "-e", _HARNESS], input=payload, capture_output=True, text=True, timeout=300,
                          check=False, env=os.environ | {"TZ": "America/Santiago"})
    if done.returncode != 0:
        raise AssertionError(f"node failed: {done.stderr[-2000:]}")
    return list(json.loads(done.stdout))
