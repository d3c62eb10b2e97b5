"""`digdag check` accepts every project gen generates: the committed out/ and every fixture manifest's."""

from __future__ import annotations

from pathlib import Path

import pytest

from gen.config import parse_config
from gen.manifest import load_manifest
from gen.output import apply_tree
from gen.plan import plan_workflows
from gen.render import render_tree
from tests.conftest import FIXTURES, REPO
from tests.digdag.conftest import copy_project, digdag
from tests.golden_cases import CASES, GOLDEN

pytestmark = pytest.mark.digdag


def check(project: Path, tmp: Path) -> str:
    done = digdag(["check", "--project", str(project)], cwd=project, tmp=tmp, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def test_committed_out_passes_check(tmp_path: Path) -> None:
    text = check(copy_project(REPO / "out", tmp_path / "out"), tmp_path)
    for name in ("fct_daily_orders", "fct_hourly_events", "customer_marts"):
        assert f"{name}:" in text
    assert 'hourly>: "10:00"' in text


def test_golden_every_schedule_passes_check(tmp_path: Path) -> None:
    text = check(copy_project(GOLDEN / "every_schedule", tmp_path / "p"), tmp_path)
    assert 'minutes_interval>: "15"' in text or "minutes_interval>: 15" in text
    assert "weekly>" in text and "monthly>" in text and "cron>" in text


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_golden_project_passes_check(case: str, tmp_path: Path) -> None:
    """Each golden tree, or each Digdag project of a split one, is a project `digdag check` accepts."""
    root = copy_project(GOLDEN / case, tmp_path / "p")
    projects = [p for p in sorted(root.iterdir()) if (p / "shared").is_dir()] or [root]
    for project in projects:
        text = check(project, tmp_path)
        assert all(f"{dig.stem} (" in text for dig in project.glob("*.dig")), text[-2000:]


@pytest.mark.compat
@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.name)
def test_every_fixture_project_passes_check(path: Path, tmp_path: Path) -> None:
    config = parse_config({"schedule": {"daily>": "02:00:00"}, "timezone": "Asia/Tokyo"}, where="gen.yml")
    tree = render_tree(plan_workflows(load_manifest(path), config))
    apply_tree(tree, tmp_path / "p")
    check(tmp_path / "p", tmp_path)
