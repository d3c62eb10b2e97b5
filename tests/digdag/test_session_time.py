"""The session time that reaches dbt is exactly Digdag's session_time, in a non-UTC timezone, for
daily, hourly and cron schedules, and the require> arithmetic Digdag evaluates matches gen's Python."""

from __future__ import annotations

import json
import stat
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gen.config import parse_config
from gen.manifest import load_manifest
from gen.output import apply_tree
from gen.plan import plan_workflows
from gen.render import render_tree
from gen.requires import Timing, js_session, js_zone_tables, need_for, sessions
from gen.schedule import parse_schedule
from tests.conftest import manifest_dict, node
from tests.digdag.conftest import digdag_env, run_workflow

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


def timing(spec, tz, window="current"):  # type: ignore[no-untyped-def]
    schedule = parse_schedule(spec, where="t")
    return Timing(schedule.grid, tz, schedule.delay_seconds, window)


PAIRS = [
    (timing({"hourly>": "10:00"}, "Asia/Tokyo"), timing({"daily>": "07:00:00"}, "Asia/Tokyo")),
    (timing({"daily>": "07:00:00"}, "Asia/Tokyo", "previous"), timing({"hourly>": "10:00"}, "UTC")),
    (timing({"daily>": "02:00:00"}, "America/New_York", "previous"), timing({"hourly>": "05:00"}, "America/New_York")),
    (timing({"weekly>": "Mon,03:00:00"}, "Europe/London", "previous"), timing({"cron>": "15 3 * * *"}, "Europe/London")),
    (timing({"monthly>": "1,04:00:00"}, "Asia/Tokyo", "previous"), timing({"daily>": "01:00:00"}, "America/New_York", "previous")),
]
SESSIONS = {"Asia/Tokyo": "2025-03-10 05:00:00", "America/New_York": "2025-03-10 00:00:00",
            "Europe/London": "2025-03-31 00:00:00"}


@pytest.mark.parametrize("index", range(len(PAIRS)))
def test_require_session_times_digdag_computes_match_python(index: int, tmp_path: Path) -> None:
    reader, upstream = PAIRS[index]
    need = need_for(reader, upstream)
    local = SESSIONS[reader.tz] if reader.grid.unit != "month" else "2025-04-01 00:00:00"
    t = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(reader.tz))
    expected = [s.isoformat() for s in sessions(need, t)]
    tables = js_zone_tables(need.zones)
    lines = [f"timezone: {reader.tz}", "_export:", f"  gen_tz: {json.dumps(tables)}",
             "+each:", f"  loop>: {len(expected)}", "  _do:",
             "    echo>: " + json.dumps("REQ ${i} " + js_session(need, "i")[0:])]
    project = tmp_path / "p"
    project.mkdir()
    (project / "probe.dig").write_text("\n".join(lines) + "\n")
    done = run_workflow(project, "probe", local, tmp_path, params={})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    got = {}
    for line in (done.stdout + done.stderr).splitlines():
        if line.startswith("REQ "):
            _, i, value = line.split(" ", 2)
            got[int(i)] = value
    assert [got[i] for i in range(len(expected))] == expected
