"""gen backfill's plan: which sessions of which workflows re-run a range, in which order (gen.backfill).
The run against a real server is tests/digdag/test_backfill.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gen.backfill import owners, parse_moment, plan_backfill
from gen.errors import ConfigError
from gen.manifest import load_manifest
from tests.conftest import REPO, manifest_dict, node
from tests.test_plan import plan_of

TOKYO = ZoneInfo("Asia/Tokyo")
DAILY = {"schedule": {"daily>": "07:00:00"}, "timezone": "Asia/Tokyo"}


def days(first: int, last: int) -> tuple[datetime, datetime]:
    return datetime(2024, 3, first, tzinfo=TOKYO), datetime(2024, 3, last + 1, tzinfo=TOKYO)


def sessions(plan: Any) -> dict[str, list[str]]:
    return {w.name: [t.isoformat() for t in w.sessions] for w in plan.workflows}


def test_an_hourly_reader_reruns_the_hours_of_the_repaired_days_after_them(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, node("orders", meta=DAILY),
                   node("events", deps=("model.shop.orders",),
                        meta={"schedule": {"hourly>": "10:00"}, "timezone": "UTC"}),
                   node("other", meta=DAILY))
    backfill = plan_backfill(plan, {"orders"}, *days(2, 3), downstream=True)
    assert [w.name for w in backfill.workflows] == ["orders", "events"]  # upstream first; `other` untouched
    got = sessions(backfill)
    assert got["orders"] == ["2024-03-02T00:00:00+09:00", "2024-03-03T00:00:00+09:00"]
    assert len(got["events"]) == 48
    assert got["events"][0] == "2024-03-01T15:00:00+00:00" and got["events"][-1] == "2024-03-03T14:00:00+00:00"
    first_hour = backfill.workflows[1].sessions[0]
    assert backfill.after[("events", first_hour)] == (("orders", backfill.workflows[0].sessions[0]),)
    assert backfill.session_count == 50
    only = plan_backfill(plan, {"orders"}, *days(2, 3), downstream=False)
    assert [w.name for w in only.workflows] == ["orders"] and only.id != backfill.id


def test_readers_with_previous_and_coarser_windows(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, node("orders", meta=DAILY),
                   node("summary", deps=("model.shop.orders",), meta={**DAILY, "window": "previous"}),
                   node("weekly", deps=("model.shop.orders",),
                        meta={"schedule": {"weekly>": "Mon,09:00:00"}, "timezone": "Asia/Tokyo"}),
                   node("week_before", deps=("model.shop.orders",),
                        meta={"schedule": {"weekly>": "Mon,09:00:00"}, "timezone": "Asia/Tokyo",
                              "window": "previous"}))
    backfill = plan_backfill(plan, {"orders"}, *days(2, 4), downstream=True)
    got = sessions(backfill)
    # window previous: the session of the next day covers a repaired day
    assert got["summary"] == [f"2024-03-0{d}T00:00:00+09:00" for d in (3, 4, 5)]
    # 2 and 3 March are a Saturday and a Sunday. The week of Monday 26 February ran at 09:00 that Monday and
    # required only what had run by then (as its require> did), so only the week of 4 March re-runs; with
    # window previous, the weeks of 4 March (26 Feb - 3 Mar) and 11 March (4 - 10 Mar) re-run.
    assert got["weekly"] == ["2024-03-04T00:00:00+09:00"]
    assert got["week_before"] == ["2024-03-04T00:00:00+09:00", "2024-03-11T00:00:00+09:00"]
    week = datetime(2024, 3, 4, tzinfo=TOKYO)
    assert [t.day for _, t in backfill.after[("weekly", week)]] == [4]  # only the backfilled day it reads
    assert [t.day for _, t in backfill.after[("week_before", week)]] == [2, 3]


def test_an_unscheduled_workflow_runs_for_the_sessions_its_readers_require(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, node("raw", meta=DAILY), node("middle", deps=("model.shop.raw",)),
                   node("report", deps=("model.shop.middle",), meta=DAILY))
    backfill = plan_backfill(plan, {"raw"}, *days(2, 2), downstream=True)
    got = sessions(backfill)
    # the unscheduled workflow runs for the reader's session time, shown in its own zone (UTC)
    assert got == {"raw": ["2024-03-02T00:00:00+09:00"], "middle": ["2024-03-01T15:00:00+00:00"],
                   "report": ["2024-03-02T00:00:00+09:00"]}
    t = datetime(2024, 3, 2, tzinfo=TOKYO)
    assert backfill.after[("report", t)] == (("middle", t),) and backfill.after[("middle", t)] == (("raw", t),)
    lonely = plan_of(tmp_path, node("raw", meta=DAILY), node("middle", deps=("model.shop.raw",)))
    alone = plan_backfill(lonely, {"raw"}, *days(2, 2), downstream=True)
    assert sessions(alone)["middle"] == [] and any("no schedule" in n for n in alone.notes)


def test_a_reader_on_no_common_grid_waits_for_every_upstream_session(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, node("up", meta={"schedule": {"cron>": "0 9,18 * * *"}, "timezone": "Asia/Tokyo"}),
                   node("down", deps=("model.shop.up",), meta=DAILY))
    backfill = plan_backfill(plan, {"up"}, *days(2, 2), downstream=True)
    got = sessions(backfill)
    # the cron sessions whose window (to the next session) overlaps the day: 18:00 the day before, 09:00, 18:00
    assert got["up"] == ["2024-03-01T18:00:00+09:00", "2024-03-02T09:00:00+09:00", "2024-03-02T18:00:00+09:00"]
    assert got["down"] == ["2024-03-01T00:00:00+09:00", "2024-03-02T00:00:00+09:00"]
    # each waits for the upstream sessions that come by its run time (07:00)
    last = datetime(2024, 3, 2, tzinfo=TOKYO)
    assert [t.hour for _, t in backfill.after[("down", last)]] == [18]
    assert backfill.after[("down", last - timedelta(days=1))] == ()


def test_moments_and_selection(tmp_path: Path) -> None:
    assert parse_moment("2024-03-04", "Asia/Tokyo", end=True) == datetime(2024, 3, 5, tzinfo=TOKYO)
    assert parse_moment("2024-03-04T09:30", "UTC", end=True).utcoffset() == timedelta(0)
    assert parse_moment("2024-03-04T09:30:00+09:00", "UTC", end=False).hour == 9
    with pytest.raises(ConfigError, match="not a date"):
        parse_moment("yesterday", "UTC", end=False)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest_dict(node("orders", meta=DAILY), node("t", resource_type="test"))))
    plan = plan_of(tmp_path, node("orders", meta=DAILY), node("t", resource_type="test"))
    manifest = load_manifest(path)
    assert owners(plan, manifest, ["orders"]) == ({"orders"}, [])
    with pytest.raises(ConfigError, match="graph operators"):
        owners(plan, manifest, ["orders+"])
    with pytest.raises(ConfigError, match="matches no node"):
        owners(plan, manifest, ["nothing_here"])
    with pytest.raises(ConfigError, match="must come after"):
        plan_backfill(plan, {"orders"}, datetime(2024, 3, 2, tzinfo=TOKYO), datetime(2024, 3, 1, tzinfo=TOKYO),
                      downstream=False)


def test_the_cli_prints_the_plan_without_a_server(parsed_shop: Path) -> None:
    done = subprocess.run([str(REPO / ".venv" / "bin" / "gen"), "backfill", "--project-dir", str(parsed_shop),
                           "--select", "countries", "--from", "2024-03-02", "--to", "2024-03-04", "--downstream"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("backfill backfill-") and "87 sessions of 6 workflows" in lines[0]
    assert "data from 2024-03-02T00:00:00+09:00 to 2024-03-05T00:00:00+09:00" in lines[0]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    example = readme[readme.index("$ gen backfill --select countries"):]
    assert example[:example.index("```")].split("\n", 1)[1] == done.stdout  # the README shows this plan
    order = [line.split()[1] for line in lines[4:10]]
    assert order == ["countries", "fct_hourly_events", "fct_orders_v1", "fct_orders_v2", "customer_marts",
                     "mart_daily_summary"]
    bad = subprocess.run([str(REPO / ".venv" / "bin" / "gen"), "backfill", "--project-dir", str(parsed_shop),
                          "--select", "countries", "--from", "2024-03-04", "--to", "2024-03-01"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "must come after" in bad.stderr


def test_execute_needs_a_reachable_server_and_says_so_in_one_line(parsed_shop: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = [str(REPO / ".venv" / "bin" / "gen"), "backfill", "--project-dir", str(parsed_shop), "--select",
            "countries", "--from", "2024-03-02", "--to", "2024-03-02", "--execute"]
    env = {k: v for k, v in os.environ.items() if k != "DIGDAG_ENDPOINT"}
    missing = subprocess.run(base, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert missing.returncode == 2 and "--execute needs --endpoint" in missing.stderr
    down = subprocess.run([*base, "--endpoint", f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                          timeout=300, check=False, env=env)
    assert down.returncode == 2, down.stderr
    assert down.stderr.strip().splitlines()[-1].startswith(f"error: http://127.0.0.1:{port}: cannot reach the server")
