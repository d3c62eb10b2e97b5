"""Hostile text survives a real Digdag run: it reaches dbt's argv exactly and runs nothing."""

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
from tests.digdag.test_session_time import FAKE_DBT

pytestmark = pytest.mark.digdag
NAME = "o'r\"d `touch pwned` $HOME ${1+1} $$ ${secret:k} # : 日本 \u2028x"
VARS = {"k${x}": "v `id` $(id) ${session_time} $$", "quote": "a \"b\" 'c' \\ \n d"}


def run_with_fake_dbt(project: Path, workflow: str, tmp_path: Path) -> Path:
    """`digdag run` one session of the workflow with the local runner and a dbt that only records its
    argv; returns the record."""
    fake = tmp_path / "dbt"
    fake.write_text(FAKE_DBT)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "dbt.log"
    env = digdag_env(tmp_path) | {"GEN_DBT": str(fake), "FAKE_DBT_LOG": str(log)}
    done = run_workflow(project, workflow, "2024-03-02 00:00:00", tmp_path, env=env,
                        params={"gen_runner": "local", "gen_dbt_project_dir": str(tmp_path)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return log


def test_hostile_names_and_vars_reach_dbt_exactly(tmp_path: Path) -> None:
    manifest = manifest_dict(node(NAME, meta={"workflow": "hostile", "schedule": {"daily>": "01:00:00"}}))
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest))
    project = tmp_path / "proj"
    config = parse_config({"dbt": {"vars": VARS, "session_time_mode": "vars"}}, where="gen.yml")
    apply_tree(render_tree(plan_workflows(load_manifest(path), config)), project)
    log = run_with_fake_dbt(project, "hostile", tmp_path)
    (record,) = [json.loads(line) for line in log.read_text().splitlines()]
    argv = record["argv"]
    assert argv[argv.index("--select") + 1] == NAME
    assert json.loads(argv[argv.index("--vars") + 1]) == {**VARS, "digdag_session_time": "2024-03-02T00:00:00+00:00"}
    assert not (project / "pwned").exists() and not Path("pwned").exists()



def test_a_model_named_in_japanese_runs_under_an_ascii_workflow_that_names_it(tmp_path: Path) -> None:
    """Digdag refuses to run a workflow named outside ASCII (its root task `+注文集計` is a task name, and
    task names must be ASCII): 注文集計 gets w_fa6a67.dig, whose first line names the model, and runs."""
    daily = {"schedule": {"daily>": "01:00:00"}}
    manifest = manifest_dict(node("注文集計", meta=daily),
                             node("report", deps=("model.shop.注文集計",), meta={"schedule": {"daily>": "02:00:00"}}))
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    project = tmp_path / "proj"
    apply_tree(render_tree(plan_workflows(load_manifest(path), parse_config({}, where="gen.yml"))), project)
    text = (project / "w_fa6a67.dig").read_text(encoding="utf-8")
    assert text.splitlines()[1] == "# w_fa6a67: builds 注文集計; data window: current session."
    log = run_with_fake_dbt(project, "report", tmp_path)
    built = [json.loads(line)["argv"] for line in log.read_text(encoding="utf-8").splitlines()]
    assert [a[a.index("--select") + 1] for a in built] == ["注文集計", "report"]
