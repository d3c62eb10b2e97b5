"""The review commands on the command line: `gen check`, `gen workflows --check` (coverage), `gen diff` and
`gen graph`, with their exit codes: 0 no change / covered, 1 changes or coverage gaps, 2 bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gen.cli import cli
from tests.conftest import manifest_dict, node

NOW = "2024-03-01T00:00:00Z"
DAILY = {"schedule": {"daily>": "07:00:00"}, "timezone": "Asia/Tokyo"}


def gen(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def in_folder(n: dict[str, Any], folder: str) -> dict[str, Any]:
    n["fqn"] = [n["package_name"], folder, *n["fqn"][1:]]
    return n


@pytest.fixture
def project(write_project, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A small project whose out/ is up to date."""
    folder = write_project(manifest_dict(node("stg", meta=DAILY),
                                         node("fct", deps=("model.shop.stg",), meta=DAILY)))
    result = gen("workflows", "--project-dir", str(folder), "--out", str(tmp_path / "out"), "-q")
    assert result.exit_code == 0, result.stderr
    return folder


# --- coverage -------------------------------------------------------------------------------------


def test_check_passes_on_a_covered_project(project: Path) -> None:
    result = gen("check", "--project-dir", str(project))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "coverage: all 2 models, seeds and snapshots are built by exactly one workflow\n"
    assert gen("check", "--project-dir", str(project), "-q").stderr == ""


def test_check_fails_on_a_gap_and_workflows_check_does_too(write_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = write_project(manifest_dict(in_folder(node("marts"), "marts"),
                                         in_folder(node("orders"), "marts")))
    result = gen("check", "--project-dir", str(folder))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "coverage: twice: orders (model.shop.orders) is built by 2 workflows: marts, orders",
        "error: 1 coverage gap(s): every enabled model, seed and snapshot must be built by exactly one "
        "workflow",
    ]
    out = tmp_path / "out"
    assert gen("workflows", "--project-dir", str(folder), "--out", str(out), "-q").exit_code == 0
    # out/ is up to date, but the select lists overlap: the check still fails
    check = gen("workflows", "--project-dir", str(folder), "--out", str(out), "--check", "-q")
    assert check.exit_code == 1
    assert "coverage: twice: orders" in check.stderr
    assert "is not up to date" not in check.stderr


def test_workflows_check_reports_coverage_when_all_is_well(project: Path, tmp_path: Path) -> None:
    result = gen("workflows", "--project-dir", str(project), "--out", str(tmp_path / "out"), "--check")
    assert result.exit_code == 0, result.stderr
    assert "coverage: all 2 models, seeds and snapshots are built by exactly one workflow" in result.stderr


def test_check_bad_input_is_exit_2(tmp_path: Path) -> None:
    result = gen("check", "--project-dir", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {tmp_path}: is not a dbt project (no dbt_project.yml)")
    (tmp_path / "dbt_project.yml").write_text("name: shop\n")
    result = gen("check", "--project-dir", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {tmp_path / 'target' / 'manifest.json'}: no such file; run `dbt parse`")


# --- diff -----------------------------------------------------------------------------------------


def test_diff_is_0_when_out_is_current_and_1_with_changes(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    same = gen("diff", "--project-dir", str(project), "--out", str(out), "--now", NOW)
    assert (same.exit_code, same.stdout) == (0, "gen diff: no workflow changes (2 workflows)\n")
    manifest = project / "target" / "manifest.json"
    manifest.write_text(json.dumps(manifest_dict(
        node("stg", meta={**DAILY, "schedule": {"daily>": "06:00:00"}}),
        node("fct", deps=("model.shop.stg",), meta={"schedule": None}),
        node("dim", deps=("model.shop.stg",), meta=DAILY))))
    changed = gen("diff", "--project-dir", str(project), "--out", str(out), "--now", NOW)
    assert changed.exit_code == 1, changed.stderr
    assert changed.stdout == (
        "gen diff: 1 added, 2 changed (2 -> 3 workflows)\n"
        "+ workflow dim added: daily>: 07:00:00 (Asia/Tokyo), builds dim; next run 2024-03-02 07:00+09:00\n"
        "~ fct: schedule daily>: 07:00:00 (Asia/Tokyo) -> no schedule; next run 2024-03-02 07:00+09:00 -> "
        "never\n"
        "~ stg: schedule daily>: 07:00:00 (Asia/Tokyo) -> daily>: 06:00:00 (Asia/Tokyo); next run "
        "2024-03-02 07:00+09:00 -> 2024-03-02 06:00+09:00\n"
        "! model fct is no longer scheduled (was in fct, now in fct, which has no schedule)\n"
        "(next runs from 2024-03-01 00:00+00:00)\n")
    quiet = gen("diff", "--project-dir", str(project), "--out", str(out), "--now", NOW, "--exit-zero",
                "--format", "markdown")
    assert quiet.exit_code == 0
    assert quiet.stdout.startswith(
        "<!-- gen diff -->\n### Digdag workflows (gen diff)\n\n**1 added, 2 changed")
    data = json.loads(gen("diff", "--project-dir", str(project), "--out", str(out), "--now", NOW,
                          "--format", "json").stdout)
    assert data["changed"] is True and data["now"] == "2024-03-01T00:00:00+00:00"
    assert data["models_unscheduled"] == [{"after": "fct", "before": "fct", "model": "fct"}]


def test_diff_of_two_manifests(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    base.write_text(json.dumps(manifest_dict(node("a", meta=DAILY), node("b", deps=("model.shop.a",)))))
    head = tmp_path / "head.json"
    head.write_text(json.dumps(manifest_dict(node("a", meta=DAILY), node("b"))))
    result = gen("diff", "--project-dir", str(tmp_path), "--base", str(base), "--head", str(head),
                 "--now", NOW)
    assert result.exit_code == 1
    assert "~ b: require> removed on a" in result.stdout.splitlines()
    same = gen("diff", "--project-dir", str(tmp_path), "--base", str(base), "--head", str(base), "--now", NOW)
    assert same.exit_code == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--head", "x.json"], "--head needs --base"),
    (["--now", "yesterday"], "Invalid value for '--now': 'yesterday' is not an ISO 8601 time"),
    (["--format", "html"], "Invalid value for '--format'"),
    (["--base", "missing.json"], "missing.json: no such file"),
])
def test_diff_bad_input_is_exit_2(project: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = gen("diff", "--project-dir", str(project), "--out", str(tmp_path / "out"), *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_diff_with_an_unreadable_out_is_exit_2(project: Path, tmp_path: Path) -> None:
    broken = tmp_path / "out" / "stg.dig"
    broken.write_text(broken.read_text().replace("timezone:", "timezone: [", 1))
    result = gen("diff", "--project-dir", str(project), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {broken}: invalid YAML at line ")


def test_diff_ignores_and_names_dig_files_gen_did_not_write(project: Path, tmp_path: Path) -> None:
    (tmp_path / "out" / "mine.dig").write_text("+a:\n  echo>: hi\n")
    result = gen("diff", "--project-dir", str(project), "--out", str(tmp_path / "out"), "--now", NOW)
    assert result.exit_code == 0
    assert "not comparing 1 .dig file(s) gen did not write: mine.dig" in result.stderr


# --- graph ----------------------------------------------------------------------------------------


def test_graph_formats_and_exit_codes(project: Path, tmp_path: Path) -> None:
    mermaid = gen("graph", "--project-dir", str(project))
    assert mermaid.exit_code == 0
    assert mermaid.stdout.startswith("flowchart LR\n") and "  wf_stg --> wf_fct\n" in mermaid.stdout
    markdown = gen("graph", "--project-dir", str(project), "--format", "markdown")
    assert markdown.stdout.startswith("```mermaid\n")
    dot = gen("graph", "--project-dir", str(project), "--format", "dot", "--select", "fct", "--depth", "0")
    assert dot.exit_code == 0 and '"fct"' in dot.stdout and '"stg"' not in dot.stdout
    target = tmp_path / "g.mmd"
    assert gen("graph", "--project-dir", str(project), "-o", str(target)).exit_code == 0
    assert target.read_text() == mermaid.stdout
    unknown = gen("graph", "--project-dir", str(project), "--select", "nope")
    assert unknown.exit_code == 2
    assert unknown.stderr == "error: no workflow named 'nope'; there are 2: fct, stg\n"
    depth = gen("graph", "--project-dir", str(project), "--depth", "1")
    assert depth.exit_code == 2 and "--depth needs --select" in depth.stderr


def test_graph_images_need_graphviz(project: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    missing = gen("graph", "--project-dir", str(project), "--format", "svg", env={"PATH": str(empty)})
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: --format svg needs Graphviz, but `dot` is not on PATH")
    # a stand-in `dot` that records its argument and answers with a fixed picture
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    (fake / "dot").write_text(
        f'#!/bin/sh\necho "$1" > {tmp_path}/args\ncat > {tmp_path}/input\necho "<svg/>"\n')
    os.chmod(fake / "dot", 0o755)
    image = tmp_path / "g.svg"
    done = gen("graph", "--project-dir", str(project), "--format", "svg", "-o", str(image),
               env={"PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"})
    assert done.exit_code == 0, done.stderr
    assert image.read_text() == "<svg/>\n"
    assert (tmp_path / "args").read_text() == "-Tsvg\n"
    assert (tmp_path / "input").read_text().startswith("digraph workflows {")


def test_help_documents_the_exit_codes() -> None:
    assert "Exit codes: 0 no change, 1 changes, 2 bad input" in " ".join(gen("diff", "--help").stdout.split())
    assert "Exit codes: 0 covered, 1 a node is built by no workflow or by several" in " ".join(
        gen("check", "--help").stdout.split())
