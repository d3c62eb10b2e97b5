"""`gen backfill --execute` against a real `digdag server --memory`, local runner on DuckDB
(tests.digdag.shop): the example's seed is changed, and a backfill of it with everything downstream
for three days changes exactly those days' rows, in the order require> needs; a failure injected into
one workflow stops exactly its readers, and the same command run again finishes the rest."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.digdag.shop import shop_server, tables

pytestmark = pytest.mark.digdag
GEN = str(REPO / ".venv" / "bin" / "gen")
# The seed's change: every country moves to another region (still one the models' tests accept).
MOVED = {"APAC": "EMEA", "EMEA": "AMER", "AMER": "APAC"}
FIRST_HOUR = datetime(2024, 3, 1, 15)  # UTC: the first hour of the Tokyo day 2024-03-02
END_HOUR = datetime(2024, 3, 4, 15)  # UTC: the end of the Tokyo day 2024-03-04


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path, dict[str, str]]]:
    """The example generated and pushed with gen's own commands, on a server of its own; fct_orders v2
    fails while <tmp>/fail exists."""
    tmp = tmp_path_factory.mktemp("backfill")
    with shop_server(tmp, fail_when="fct_orders.v2") as (url, dbt_project, db, env):
        gen(["workflows", "--parse", "--project-dir", str(dbt_project), "-q"], env)
        gen(["push", "--project-dir", str(dbt_project), "--endpoint", url, "--revision", "backfill"], env)
        yield url, dbt_project, db, env


def gen(args: list[str], env: dict[str, str], *, expect: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([GEN, *args], env=env, capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == expect, (done.returncode, done.stdout[-3000:], done.stderr[-3000:])
    return done


def backfill(shop: tuple[str, Path, Path, dict[str, str]], *selects: str, start: str, stop: str,
             expect: int = 0) -> dict[str, Any]:
    url, dbt_project, _, env = shop
    args = ["backfill", "--project-dir", str(dbt_project), "--from", start, "--to", stop, "--downstream",
            "--execute", "--endpoint", url, "--parallel", "4", "--poll-seconds", "0.5", "--format", "json",
            "-p", "gen_runner=local", "-p", f"gen_dbt_project_dir={dbt_project}",
            "-p", f"gen_dbt_profiles_dir={dbt_project}"]
    for select in selects:
        args += ["--select", select]
    done = gen(args, env, expect=expect)
    result: dict[str, Any] = json.loads(done.stdout)
    result["progress"] = done.stderr.splitlines()
    return result


def states(result: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for session in result["result"]["sessions"]:
        out.setdefault(session["state"], set()).add(session["workflow"])
    return out


def test_a_seed_backfilled_with_its_readers_changes_exactly_those_days(shop) -> None:  # type: ignore[no-untyped-def]
    _, dbt_project, db, _ = shop
    # Four days of everything, as a backfill of every source of the example.
    loaded = backfill(shop, "countries", "customers_snapshot", "stg_customers", "stg_events", "stg_orders",
                      start="2024-03-01", stop="2024-03-04")
    assert loaded["result"]["ok"] and set(states(loaded)) == {"succeeded"}
    # a line per change, saying where that workflow stands
    assert sum("succeeded  [fct_hourly_events: " in line for line in loaded["progress"]) == 96
    assert any(line.endswith("[fct_hourly_events: 96/96 done, 0 running, 0 failed]") for line in loaded["progress"])
    before = tables(db)
    hours = sorted({r[0] for r in before["fct_hourly_events"]})
    assert hours[0] < FIRST_HOUR and FIRST_HOUR in hours and hours[-1] < END_HOUR

    seed = dbt_project / "seeds" / "countries.csv"
    header, *rows = seed.read_text().splitlines()
    seed.write_text("\n".join([header, *(",".join(moved(tuple(row.split(",")))) for row in rows)]) + "\n")
    (db.parent / "fail").touch()
    first = backfill(shop, "countries", start="2024-03-02", stop="2024-03-04", expect=1)
    plan = {w["name"]: w for w in first["workflows"]}
    assert sorted(plan) == ["countries", "customer_marts", "fct_hourly_events", "fct_orders_v1", "fct_orders_v2",
                            "mart_daily_summary"]
    assert plan["fct_hourly_events"]["count"] == 72 and plan["countries"]["count"] == 3
    # the daily summary reads the day before: it re-runs for the days after each repaired day
    assert plan["mart_daily_summary"]["sessions"] == [f"2024-03-0{d}T00:00:00+09:00" for d in (3, 4, 5)]
    # exactly the readers of the failed workflow stopped; everything else ran
    assert states(first) == {"failed": {"fct_orders_v2"}, "blocked": {"customer_marts"},
                             "succeeded": {"countries", "fct_hourly_events", "fct_orders_v1", "mart_daily_summary"}}
    assert any("failed (digdag log" in line and "[fct_orders_v2: 0/3 done, 0 running, 3 failed]" in line
               for line in first["progress"])
    assert any("not run: it reads fct_orders_v2" in line for line in first["progress"])

    (db.parent / "fail").unlink()
    second = backfill(shop, "countries", start="2024-03-02", stop="2024-03-04")
    assert second["id"] == first["id"]
    assert states(second) == {"succeeded": {"fct_orders_v2", "customer_marts"},
                              "done before": {"countries", "fct_hourly_events", "fct_orders_v1",
                                              "mart_daily_summary"}}
    after = tables(db)
    # Hourly facts: the repaired days' rows carry the moved regions, every other hour is as it was.
    def repaired(row: tuple[object, ...]) -> bool:
        return FIRST_HOUR <= row[0] < END_HOUR  # type: ignore[operator]

    inside = [r for r in before["fct_hourly_events"] if repaired(r)]
    outside = [r for r in before["fct_hourly_events"] if not repaired(r)]
    assert inside and outside and {r[2] for r in inside} & set(MOVED)
    assert [r for r in after["fct_hourly_events"] if not repaired(r)] == outside
    assert Counter(r for r in after["fct_hourly_events"] if repaired(r)) == Counter(moved(r) for r in inside)
    # Tables rebuilt whole by the readers of the seed carry the moved regions; what does not read it is as it was.
    for table in ("dim_customers", "mart_customer_ltv", "fct_orders_v2"):
        assert before[table] != after[table] and Counter(after[table]) == Counter(map(moved, before[table])), table
    for table in ("fct_daily_orders", "mart_daily_summary", "fct_orders_v1"):
        assert after.get(table) == before.get(table), table


def moved(row: tuple[object, ...]) -> tuple[object, ...]:
    return tuple(MOVED.get(c, c) if isinstance(c, str) else c for c in row)
