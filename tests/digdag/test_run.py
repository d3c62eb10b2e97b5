"""`digdag run` of the example's generated workflows with the local runner: real dbt on DuckDB. (Whole days
through the server, require> and reruns included: test_day.py.)"""

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


def test_failing_dbt_model_fails_the_digdag_task(example, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project, dbt_project, env = example
    (dbt_project / "models" / "staging" / "stg_orders.sql").write_text("select broken syntax from\n")
    done = run_workflow(project, "stg_orders", "2024-03-02 00:00:00", tmp_path, env=env, params=params(dbt_project))
    assert done.returncode != 0
    assert "+stg_orders+dbt_build" in done.stdout + done.stderr
    assert "Command failed with code 1" in done.stdout + done.stderr
