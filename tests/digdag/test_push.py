"""`gen push` against a real `digdag server --memory` on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, FIXTURES, REPO, manifest_dict, node

pytestmark = pytest.mark.digdag


def get(url: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def gen(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gen", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False, env=env)


def write(project: Path, *nodes: dict) -> None:  # type: ignore[type-arg]
    (project / "target").mkdir(parents=True, exist_ok=True)
    (project / "target" / "manifest.json").write_text(json.dumps(manifest_dict(*nodes)))


def test_push_list_remove_and_revise(digdag_server: str, tmp_path: Path) -> None:
    project = tmp_path / "dbt"
    daily = {"schedule": {"daily>": "07:00:00"}, "timezone": "Asia/Tokyo"}
    write(project, node("orders", meta=daily), node("customers", meta=daily),
          node("events", meta={"schedule": {"hourly>": "10:00"}}))
    (project / "gen.yml").write_text("project: push_test\n")
    out = tmp_path / "out"
    args = ["--project-dir", str(project), "--out", str(out)]
    # refuses to push what is not fresh
    stale = gen("push", "--endpoint", digdag_server, *args, cwd=tmp_path)
    assert stale.returncode == 1 and "nothing was pushed" in stale.stderr
    assert gen("workflows", *args, cwd=tmp_path).returncode == 0
    first = gen("push", "--endpoint", digdag_server, "--revision", "r1", *args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "project push_test" in first.stdout and "revision r1" in first.stdout
    assert "events" in first.stdout and "next session" in first.stdout
    projects = get(f"{digdag_server}/api/projects")["projects"]
    (proj,) = [p for p in projects if p["name"] == "push_test"]
    schedules = get(f"{digdag_server}/api/projects/{proj['id']}/schedules")["schedules"]
    assert sorted(s["workflow"]["name"] for s in schedules) == ["customers", "events", "orders"]
    # a workflow removed from the dbt project: its schedule disappears from the server
    write(project, node("orders", meta=daily), node("events", meta={"schedule": {"hourly>": "10:00"}}))
    assert gen("workflows", *args, cwd=tmp_path).returncode == 0
    second = gen("push", "--endpoint", digdag_server, "--revision", "r2", *args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    schedules = get(f"{digdag_server}/api/projects/{proj['id']}/schedules")["schedules"]
    assert sorted(s["workflow"]["name"] for s in schedules) == ["events", "orders"]
    revisions = get(f"{digdag_server}/api/projects/{proj['id']}/revisions")["revisions"]
    assert [r["revision"] for r in revisions][:2] == ["r2", "r1"]


def test_server_errors_are_reported_with_the_servers_message(digdag_server: str, tmp_path: Path) -> None:
    project = tmp_path / "dbt"
    write(project, node("orders"))
    out = tmp_path / "out"
    args = ["--project-dir", str(project), "--out", str(out)]
    assert gen("workflows", *args, cwd=tmp_path).returncode == 0
    (out / "broken.dig").write_text("+task:\n  sh>: [unclosed\n")  # a file gen did not write is uploaded too
    bad = gen("push", "--endpoint", digdag_server, "--revision", "r1", *args, cwd=tmp_path)
    assert bad.returncode == 2
    assert "uploading 1 file(s) gen did not write: broken.dig" in bad.stderr
    (error,) = [line for line in bad.stderr.splitlines() if line.startswith("error:")]
    assert "PUT /api/projects: server answered 400: Validating project failed workflow broken.dig while " \
           "parsing a flow sequence" in error


def test_token_comes_from_the_environment_and_is_never_printed(digdag_server: str, tmp_path: Path) -> None:
    project = tmp_path / "dbt"
    write(project, node("orders"))
    out = tmp_path / "out"
    args = ["--project-dir", str(project), "--out", str(out)]
    assert gen("workflows", *args, cwd=tmp_path).returncode == 0
    env = dict(os.environ) | {"DIGDAG_TOKEN": "s3cr3t-token-value"}
    done = gen("push", "--endpoint", digdag_server, "--revision", "tok", *args, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "s3cr3t" not in done.stdout + done.stderr
    assert shutil.which("git") is not None


def test_the_example_pushes_to_a_server_with_default_settings(digdag_server: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(REPO / "out", out)
    done = gen("push", "--parse", "--project-dir", str(EXAMPLE), "--out", str(out), "--endpoint", digdag_server,
               "--revision", "example", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "as project shop" in done.stdout and "11 workflows, 11 schedules" in done.stdout


@pytest.mark.compat
@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.name)
def test_every_fixture_project_pushes_to_a_server_with_default_settings(digdag_server: str, path: Path,
                                                                        tmp_path: Path) -> None:
    project = tmp_path / "dbt"
    project.mkdir()
    (project / "gen.yml").write_text(f"project: fixture_{path.stem}\nschedule: {{daily>: '02:00:00'}}\n"
                                     "timezone: Europe/Berlin\n")
    args = ["--manifest", str(path), "--project-dir", str(project), "--out", str(tmp_path / "out")]
    assert gen("workflows", *args, cwd=tmp_path).returncode == 0
    done = gen("push", *args, "--endpoint", digdag_server, "--revision", "fixture", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"as project fixture_{path.stem}" in done.stdout
