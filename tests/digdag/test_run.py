"""`digdag run` of the example's generated workflows with the local runner: real dbt on DuckDB."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import EXAMPLE, REPO
from tests.digdag.conftest import copy_project, digdag_env, run_workflow

pytestmark = pytest.mark.digdag


@pytest.fixture
def example(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A copy of out/ and of the example dbt project, and an env pointing dbt at a fresh DuckDB file."""
    project = copy_project(REPO / "out", tmp_path / "digdag-project")
    dbt_project = tmp_path / "shop"
    shutil.copytree(EXAMPLE, dbt_project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    env = digdag_env(tmp_path) | {"SHOP_DUCKDB_PATH": str(tmp_path / "shop.duckdb")}
    return project, dbt_project, env


def params(dbt_project: Path) -> dict[str, str]:
    return {"gen_runner": "local", "gen_dbt_project_dir": str(dbt_project), "gen_dbt_profiles_dir": str(dbt_project)}


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_require_runs_upstream_then_builds_idempotently_and_backfills(example, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project, dbt_project, env = example
    db = tmp_path / "shop.duckdb"
    first = run_workflow(project, "fct_daily_orders", "2024-03-02 00:00:00", tmp_path, env=env,
                         params=params(dbt_project))
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    log = first.stdout + first.stderr
    # require> started the upstream workflow's session first, for the same day
    assert log.index("workflow=stg_orders session_time=2024-03-02T00:00:00+09:00") < \
        log.index("workflow=fct_daily_orders session_time=2024-03-02T00:00:00+09:00")
    day = "select * from main.fct_daily_orders order by all"
    once = rows(db, day)
    assert once and {r for r in rows(db, "select distinct session_date from main.fct_daily_orders")} == \
        {(__import__("datetime").date(2024, 3, 2),)}
    again = run_workflow(project, "fct_daily_orders", "2024-03-02 00:00:00", tmp_path, env=env,
                         params=params(dbt_project))
    assert again.returncode == 0
    assert rows(db, day) == once  # the same session again gives the same table
    for session in ("2024-03-01 00:00:00", "2024-03-03 00:00:00"):
        done = run_workflow(project, "fct_daily_orders", session, tmp_path, env=env, params=params(dbt_project))
        assert done.returncode == 0, done.stdout[-3000:]
    per_day = rows(db, "select session_date, count(*), count(distinct order_id) from main.fct_daily_orders "
                       "group by 1 order by 1")
    assert [r[0].isoformat() for r in per_day] == ["2024-03-01", "2024-03-02", "2024-03-03"]
    assert all(count == distinct for _, count, distinct in per_day)  # each day's rows exactly once
    assert rows(db, "select * from main.fct_daily_orders where session_date = '2024-03-02' order by all") == once


def test_failing_dbt_model_fails_the_digdag_task(example, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project, dbt_project, env = example
    (dbt_project / "models" / "staging" / "stg_orders.sql").write_text("select broken syntax from\n")
    done = run_workflow(project, "stg_orders", "2024-03-02 00:00:00", tmp_path, env=env, params=params(dbt_project))
    assert done.returncode != 0
    assert "+stg_orders+dbt_build" in done.stdout + done.stderr
    assert "Command failed with code 1" in done.stdout + done.stderr
