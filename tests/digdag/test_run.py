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


def test_retry_error_sla_and_export_blocks_from_gen_yml_work_in_digdag(tmp_path: Path) -> None:
    """gen.yml's retry, error, sla and export land in every workflow; a failing dbt runs 1 + retry times,
    then the _error task runs with the session's parameters; `digdag check` accepts the sla."""
    import json
    import stat
    import subprocess
    import sys

    from tests.conftest import manifest_dict, node
    from tests.digdag.conftest import digdag

    project = tmp_path / "dbt"
    (project / "target").mkdir(parents=True)
    (project / "target" / "manifest.json").write_text(json.dumps(manifest_dict(node("orders"))))
    (project / "gen.yml").write_text(
        'schedule: {daily>: "02:00:00"}\nretry: 2\nerror:\n  echo>: "ALERT ${team} ${session_time}"\n'
        'sla:\n  time: "03:30"\n  +late:\n    echo>: "late"\nexport:\n  team: data-platform\n')
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "gen", "workflows", "--project-dir", str(project), "--out", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    checked = digdag(["check", "--project", str(out)], cwd=out, tmp=tmp_path)
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
    fake = tmp_path / "dbt-fails"
    fake.write_text(f"#!/bin/sh\necho run >> {tmp_path / 'runs.log'}\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = digdag_env(tmp_path) | {"GEN_DBT": str(fake)}
    run = run_workflow(out, "orders", "2024-03-02 00:00:00", tmp_path, env=env,
                       params={"gen_runner": "local", "gen_dbt_project_dir": str(project)})
    assert run.returncode != 0
    assert (tmp_path / "runs.log").read_text().count("run") == 3  # the first try and two retries
    assert "ALERT data-platform 2024-03-02T00:00:00+00:00" in run.stdout + run.stderr
