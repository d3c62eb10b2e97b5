"""The session time that reaches dbt is exactly Digdag's session_time, in a non-UTC timezone, for
daily, hourly and cron schedules, and the require> arithmetic Digdag evaluates matches gen's Python."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from gen.config import parse_config
from gen.manifest import load_manifest
from gen.output import apply_tree
from gen.plan import plan_workflows
from gen.render import render_tree
from tests.conftest import manifest_dict, node
from tests.digdag.conftest import digdag_env, run_workflow
from tests.session_cases import cases, write_probe

pytestmark = pytest.mark.digdag
TOKYO = {"timezone": "Asia/Tokyo"}

FAKE_DBT = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["FAKE_DBT_LOG"], "a") as f:
    f.write(json.dumps({"argv": sys.argv[1:], "env": os.environ.get("DIGDAG_SESSION_TIME")}) + "\\n")
"""


def test_session_time_reaches_dbt_exactly(tmp_path: Path) -> None:
    manifest = manifest_dict(
        node("daily_t", meta={"schedule": {"daily>": "07:00:00"}, **TOKYO}),
        node("hourly_t", meta={"schedule": {"hourly>": "10:00"}, **TOKYO}),
        node("cron_t", meta={"schedule": {"cron>": "15 3 * * *"}, **TOKYO}))
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest))
    project = tmp_path / "proj"
    apply_tree(render_tree(plan_workflows(load_manifest(path), parse_config({}, where="gen.yml"))), project)
    fake = tmp_path / "dbt"
    fake.write_text(FAKE_DBT)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "dbt.log"
    env = digdag_env(tmp_path) | {"GEN_DBT": str(fake), "FAKE_DBT_LOG": str(log)}
    cases = [("daily_t", "2024-03-02 00:00:00", "2024-03-02T00:00:00+09:00"),
             ("hourly_t", "2024-03-02 05:00:00", "2024-03-02T05:00:00+09:00"),
             ("cron_t", "2024-03-02 03:15:00", "2024-03-02T03:15:00+09:00")]
    for workflow, session, _ in cases:
        done = run_workflow(project, workflow, session, tmp_path, env=env,
                            params={"gen_runner": "local", "gen_dbt_project_dir": str(tmp_path)})
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 3
    for record, (workflow, _, expected) in zip(records, cases, strict=False):
        argv = record["argv"]
        assert argv[argv.index("--select") + 1] == workflow
        # env mode (the default): DIGDAG_SESSION_TIME carries it, --vars stays constant for partial parsing
        assert "digdag_session_time" not in json.loads(argv[argv.index("--vars") + 1])
        assert record["env"] == expected


def test_require_expressions_digdag_evaluates_match_python(tmp_path: Path) -> None:
    """Every expression kind gen writes (own session, last_session_time, moment chains, the shared library
    with DST tables, loop counts), evaluated by Digdag's own engine with its moment.js, over DST days of
    several zones, month ends and every schedule form: exactly the session times Python computes."""
    items = cases(per_mark=4, loop_ends=True)  # node checks every session and index (tests/test_requires.py)
    project = tmp_path / "p"
    write_probe(project, items)
    done = run_workflow(project, "probe", "2025-01-01 00:00:00", tmp_path, params={})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    got: dict[int, str] = {}
    for line in done.stdout.splitlines():
        if line.startswith("CASE "):
            _, n, value = line.split(" ", 2)
            got[int(n)] = value
    assert len(got) == len(items) > 700
    mismatches = [(c.expr[-150:], c.session_time, c.i, c.expected, got[n]) for n, c in enumerate(items)
                  if got[n] != c.expected]
    assert not mismatches, mismatches[:5]
