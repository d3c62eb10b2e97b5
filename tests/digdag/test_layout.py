"""Split output and bounded fan-in on a real `digdag server --memory` with default settings: the projects
push upstream first, `digdag check` accepts each, and a reader in one project runs after its upstream
sessions in another, required through a completion workflow."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import manifest_dict, node
from tests.digdag.conftest import digdag, digdag_env, start_server
from tests.digdag.shop import call
from tests.digdag.test_session_time import FAKE_DBT

pytestmark = pytest.mark.digdag
HOURLY = {"schedule": {"hourly>": "10:00"}, "timezone": "UTC"}
GEN_YML = "project: split\nmax_project_bytes: 120000\nmax_attempt_tasks: 40\n"


def test_split_projects_push_and_a_reader_runs_after_upstream_sessions_in_another(tmp_path: Path) -> None:
    nodes = [node(f"events_{i}", path=f"models/staging/events_{i}.sql", meta=HOURLY) for i in range(2)]
    nodes += [node(f"pad_{i:03d}", path=f"models/{'staging' if i % 2 else 'marts'}/pad_{i:03d}.sql")
              for i in range(160)]
    nodes.append(node("daily_report", path="models/marts/daily_report.sql",
                      deps=tuple(n["unique_id"] for n in nodes[:2]),
                      meta={"schedule": {"daily>": "02:00:00"}, "timezone": "UTC", "window": "previous"}))
    project = tmp_path / "dbt"
    (project / "target").mkdir(parents=True)
    (project / "target" / "manifest.json").write_text(json.dumps(manifest_dict(*nodes)))
    (project / "gen.yml").write_text(GEN_YML)
    out = tmp_path / "out"
    gen = [sys.executable, "-m", "gen"]
    args = ["--project-dir", str(project), "--out", str(out)]
    done = subprocess.run([*gen, "workflows", *args], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "split into 2 Digdag projects" in done.stdout
    folders = sorted(p.name for p in out.iterdir())
    assert folders == ["split_marts", "split_staging"]
    for folder in folders:
        size = sum(p.stat().st_size for p in (out / folder).rglob("*") if p.is_file())
        assert size <= 120000, (folder, size)
        checked = digdag(["check", "--project", str(out / folder)], cwd=out / folder, tmp=tmp_path)
        assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
    report = (out / "split_marts" / "daily_report.dig").read_text()
    assert 'require>: "events_0__daily_sessions_utc_previous"' in report and "loop>" not in report
    helper = (out / "split_marts" / "events_0__daily_sessions_utc_previous.dig").read_text()
    assert 'project_name: "split_staging"' in helper and "loop>: 24" in helper and "+dbt_build" not in helper

    fake = tmp_path / "dbt-fake"
    fake.write_text(FAKE_DBT)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "dbt.log"
    env = digdag_env(tmp_path) | {"GEN_DBT": str(fake), "FAKE_DBT_LOG": str(log)}
    with start_server(tmp_path, env) as url:
        pushed = subprocess.run([*gen, "push", "--endpoint", url, "--revision", "r1", *args], capture_output=True,
                                text=True, timeout=300, check=False)
        assert pushed.returncode == 0, pushed.stderr
        assert pushed.stdout.index("as project split_staging") < pushed.stdout.index("as project split_marts")
        (marts,) = [p for p in call(f"{url}/api/projects")["projects"] if p["name"] == "split_marts"]
        (workflow,) = [w for w in call(f"{url}/api/projects/{marts['id']}/workflows")["workflows"]
                       if w["name"] == "daily_report"]
        params = {"gen_runner": "local", "gen_dbt_project_dir": str(tmp_path)}
        attempt = call(f"{url}/api/attempts", "PUT", {"workflowId": workflow["id"], "params": params,
                                                     "sessionTime": "2024-03-02T00:00:00Z"})["id"]
        deadline = time.monotonic() + 600
        while not (state := call(f"{url}/api/attempts/{attempt}"))["done"]:
            assert time.monotonic() < deadline
            time.sleep(1)
        assert state["success"], (tmp_path / "server.log").read_text()[-4000:]
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    built = [(r["argv"][r["argv"].index("--select") + 1], r["env"]) for r in runs]
    hours = sorted(env for name, env in built if name == "events_0")
    assert hours == [f"2024-03-01T{h:02d}:00:00+00:00" for h in range(24)]  # the previous day's 24 hours
    assert len(built) == 49 and built[-1] == ("daily_report", "2024-03-02T00:00:00+00:00")
