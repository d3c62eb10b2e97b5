"""Two days of the example through a real `digdag server --memory`: one session of every workflow per
day (its first of the day), started in the order the schedules would start them, with the local runner
on DuckDB (tests.digdag.shop). require> pulls in the upstream sessions a reader needs (the daily summary:
the 24 hourly sessions of the day before); the tables then hold exactly those sessions' rows, and
starting the first day's sessions again (as retries) changes nothing."""

from __future__ import annotations

import functools
import json
import time
import urllib.error
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gen.ir import Plan
from gen.pipeline import Inputs, generate
from gen.push import archive
from gen.requires import Timing, grid_sessions
from tests.conftest import EXAMPLE, REPO
from tests.digdag.conftest import copy_project
from tests.digdag.shop import call, shop_server, tables

pytestmark = pytest.mark.digdag
TOKYO = ZoneInfo("Asia/Tokyo")
DAY1, DAY2 = datetime(2024, 3, 2, tzinfo=TOKYO), datetime(2024, 3, 3, tzinfo=TOKYO)


@functools.cache
def example_plan() -> Plan:
    """The example's plan, from a fresh `dbt parse` (a clean clone has no target/)."""
    return generate(Inputs(project_dir=EXAMPLE, parse=True)).plan


def day_sessions(day: datetime) -> list[tuple[datetime, str, datetime]]:
    """(start time, workflow, session time) of each workflow's first session started on `day`."""
    plan = example_plan()
    out = []
    for w in plan.workflows:
        assert w.schedule is not None
        timing = Timing(w.schedule.grid, w.timezone, w.schedule.delay_seconds, w.window)
        delay = timedelta(seconds=w.schedule.delay_seconds)
        for session in grid_sessions(timing, day - delay - timedelta(days=1), day + timedelta(days=1)):
            if day <= session + delay < day + timedelta(days=1):
                out.append((session + delay, w.name, session))
                break
    return sorted(out)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """A server whose local runner writes to a fresh DuckDB file, with the example pushed to it."""
    tmp = tmp_path_factory.mktemp("day")
    with shop_server(tmp) as (url, dbt_project, db, _):
        project = copy_project(REPO / "out", tmp / "digdag-project")
        call(f"{url}/api/projects?project=shop&revision=day", "PUT", archive(project), "application/gzip")
        yield url, dbt_project, db


def run_day(url: str, dbt_project: Path, day: datetime, *, retry: str | None = None) -> list[str]:
    """Start the day's sessions in schedule order, each when the one before has finished; returns the
    workflows whose attempt failed."""
    (project,) = [p for p in call(f"{url}/api/projects")["projects"] if p["name"] == "shop"]
    ids = {w["name"]: w["id"] for w in call(f"{url}/api/projects/{project['id']}/workflows")["workflows"]}
    params = {"gen_runner": "local", "gen_dbt_project_dir": str(dbt_project), "gen_dbt_profiles_dir": str(dbt_project)}
    attempts = []
    for _, workflow, session in day_sessions(day):
        body: dict[str, Any] = {"workflowId": ids[workflow], "params": params,
                                "sessionTime": session.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        if retry:
            body["retryAttemptName"] = retry
        try:
            attempt = call(f"{url}/api/attempts", "PUT", body)["id"]
        except urllib.error.HTTPError as e:
            # a reader's require> started this session already, before its scheduled time: the scheduler
            # finds it and starts nothing (Digdag answers 409 with the existing attempt)
            assert e.code == 409 and not retry, e
            attempt = json.loads(e.read())["id"]
        attempts.append((workflow, attempt))
        deadline = time.monotonic() + 600
        while not call(f"{url}/api/attempts/{attempt}")["done"]:
            assert time.monotonic() < deadline, f"attempt {attempt} of {workflow} did not finish"
            time.sleep(0.5)
    return [w for w, attempt in attempts if not call(f"{url}/api/attempts/{attempt}")["success"]]


def test_two_days_in_schedule_order_hold_exactly_those_days_and_a_rerun_changes_nothing(server) -> None:  # type: ignore[no-untyped-def]
    url, dbt_project, db = server
    started = day_sessions(DAY1)
    daily = [w for _, w, _ in started if w != "fct_hourly_events"]
    assert daily[:2] == ["customers_snapshot", "countries"] and daily[-1] == "customer_marts"
    assert len(started) == len({w for _, w, _ in started}) == 11
    assert run_day(url, dbt_project, DAY1) == []
    assert run_day(url, dbt_project, DAY2) == []
    before = tables(db)
    days = {r[0].isoformat() for r in before["fct_daily_orders"]}
    # both days, and the day before DAY1, which DAY1's daily summary (window: previous) required
    assert sorted(days) == ["2024-03-01", "2024-03-02", "2024-03-03"]
    ids = [r for r in before["fct_daily_orders"]]
    assert len(ids) == len(set(ids))  # each day's rows once
    hours = sorted({r[0] for r in before["fct_hourly_events"]})
    # the 24 hours of each Tokyo day before a daily summary ran (required), and each day's first hour
    # (15:00 UTC the day before) is among them
    assert hours[0] >= datetime(2024, 2, 29, 15) and hours[-1] <= datetime(2024, 3, 2, 15)
    reports = {r[0].isoformat() for r in before["mart_daily_summary"]}
    assert {"2024-03-01", "2024-03-02"} <= reports <= {"2024-03-01", "2024-03-02", "2024-03-03"}
    assert run_day(url, dbt_project, DAY1, retry="again") == []
    assert tables(db) == before
