"""The CI recipes: the pre-commit hooks (.pre-commit-hooks.yaml) and the GitHub Actions example
(docs/ci/github-actions.yml). Their commands are run, not only their YAML read: the hook entries in a small
repository, and the workflow's `dbt` and `gen` steps in a git repository holding a copy of the example
project, as a pull request that changes a schedule. Steps that need the network (pip install, posting the
comment, pushing to Digdag) are checked for what they call, not run."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gen.cli import cli
from tests.conftest import REPO, copy_example, manifest_dict, node

BIN = Path(sys.executable).parent  # the venv's bin: gen and dbt
HOOKS = REPO / ".pre-commit-hooks.yaml"
ACTIONS = REPO / "docs" / "ci" / "github-actions.yml"
DAILY = {"schedule": {"daily>": "07:00:00"}}


def env_with_venv(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


# --- pre-commit -----------------------------------------------------------------------------------


def hooks() -> dict[str, dict[str, Any]]:
    return {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text())}


def test_hooks_are_well_formed() -> None:
    found = hooks()
    assert set(found) == {"gen-check", "gen-coverage"}
    assert found["gen-check"]["entry"] == "gen workflows --check"
    assert found["gen-coverage"]["entry"] == "gen check"
    for hook in found.values():
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        files = re.compile(hook["files"])
        for path in ("models/marts/orders.sql", "dbt_project.yml", "models/_schema.yaml", "seeds/c.csv",
                     "pyproject.toml"):
            assert files.search(path), (hook["id"], path)
        assert not files.search("README.md")
    assert re.search(hooks()["gen-check"]["files"], "out/orders.dig")


def run_hook(hook_id: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a hook's entry as pre-commit does: argv (no shell), in the repository root, no file names."""
    argv = shlex.split(hooks()[hook_id]["entry"])
    return subprocess.run(argv, cwd=cwd, env=env_with_venv(), capture_output=True, text=True, timeout=120,
                          check=False)


def test_hook_entries_pass_then_catch_a_stale_out_and_a_coverage_gap(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "project" / "target").mkdir(parents=True)
    (repo / "pyproject.toml").write_text('[tool.gen]\nproject-dir = "project"\nout = "out"\n')
    manifest = repo / "project" / "target" / "manifest.json"
    manifest.write_text(json.dumps(manifest_dict(node("stg", meta=DAILY),
                                                 node("fct", deps=("model.shop.stg",)))))
    written = subprocess.run([str(BIN / "gen"), "workflows"], cwd=repo, capture_output=True, text=True,
                             check=False)
    assert written.returncode == 0, written.stderr
    for hook_id in ("gen-check", "gen-coverage"):
        ok = run_hook(hook_id, repo)
        assert ok.returncode == 0, ok.stderr
        assert "coverage: all 2 models, seeds and snapshots are built by exactly one workflow" in ok.stderr

    dig = repo / "out" / "stg.dig"
    dig.write_text(dig.read_text().replace("07:00:00", "08:00:00"))
    stale = run_hook("gen-check", repo)
    assert stale.returncode == 1
    assert "out is not up to date" in stale.stderr
    assert run_hook("gen-coverage", repo).returncode == 0  # coverage alone does not look at out/

    folder = node("marts")
    folder["fqn"] = ["shop", "marts", "marts"]
    other = node("orders")
    other["fqn"] = ["shop", "marts", "orders"]
    manifest.write_text(json.dumps(manifest_dict(folder, other)))
    rewritten = subprocess.run([str(BIN / "gen"), "workflows"], cwd=repo, capture_output=True, check=False)
    assert rewritten.returncode == 0
    for hook_id in ("gen-check", "gen-coverage"):
        gap = run_hook(hook_id, repo)
        assert gap.returncode == 1, (hook_id, gap.stderr)
        assert "coverage: twice: orders (model.shop.orders) is built by 2 workflows: marts, orders" \
            in gap.stderr


# --- GitHub Actions -------------------------------------------------------------------------------


def workflow() -> dict[Any, Any]:
    return yaml.safe_load(ACTIONS.read_text())


def steps() -> dict[str, dict[str, Any]]:
    (job,) = workflow()["jobs"].values()
    return {step["id"]: step for step in job["steps"] if "id" in step}


def test_actions_workflow_shape() -> None:
    data = workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"pull_request", "push"} and triggers["push"]["branches"] == ["main"]
    assert data["permissions"] == {"contents": "read", "pull-requests": "write"}
    (job,) = data["jobs"].values()
    uses = [s["uses"].split("@")[0] for s in job["steps"] if "uses" in s]
    assert uses == ["actions/checkout", "actions/setup-python"]
    assert job["steps"][0]["with"]["fetch-depth"] == 0
    found = steps()
    assert list(found) == ["install", "parse", "diff", "comment", "check", "push"]
    on_pull_request = "github.event_name == 'pull_request'"
    assert found["diff"]["if"] == found["comment"]["if"].split(" && ")[0] == on_pull_request
    assert "--body-file comment.md" in found["comment"]["run"] and "gh pr comment" in found["comment"]["run"]
    assert found["comment"]["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert found["push"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert found["push"]["env"] == {"DIGDAG_ENDPOINT": "${{ secrets.DIGDAG_ENDPOINT }}",
                                    "DIGDAG_TOKEN": "${{ secrets.DIGDAG_TOKEN }}"}


def test_the_push_step_uses_only_flags_gen_push_has() -> None:
    from click.testing import CliRunner

    line = steps()["push"]["run"].strip()
    argv = shlex.split(line)
    assert argv[:2] == ["gen", "push"]
    help_text = CliRunner().invoke(cli, ["push", "--help"]).output
    for flag in (a for a in argv if a.startswith("--")):
        assert re.search(rf"(^|\s){re.escape(flag)}\b", help_text, re.MULTILINE), flag
    assert "DIGDAG_TOKEN" in help_text  # the token comes from the environment, never a flag


def expand(text: str, values: dict[str, str]) -> str:
    """Replace the ${{ ... }} expressions the test knows; any other is a test failure."""
    def one(match: re.Match[str]) -> str:
        key = match.group(1).strip()
        if key not in values:
            pytest.fail(f"github-actions.yml uses ${{{{ {key} }}}}, which this test does not provide")
        return values[key]

    return re.sub(r"\$\{\{(.*?)\}\}", one, text)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid",
                           "-c", "commit.gpgsign=false", *args], cwd=repo, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def run_step(step: dict[str, Any], repo: Path, env: dict[str, str],
             values: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A `run:` step as GitHub runs it: bash -eo pipefail, the job's and the step's env."""
    step_env = {k: expand(str(v), values) for k, v in step.get("env", {}).items()}
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=repo,
                          env={**env, **step_env}, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.dbt
@pytest.mark.slow
def test_actions_steps_run_on_a_pull_request_that_changes_a_schedule(parsed_shop: Path,
                                                                     tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    project = copy_example(repo)
    shutil.copytree(REPO / "out", repo / "out")
    shutil.copy(REPO / "pyproject.toml", repo / "pyproject.toml")
    (repo / ".gitignore").write_text(
        "examples/*/target/\nexamples/*/logs/\nexamples/*/dbt_packages/\ncomment.md\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    base_sha = git(repo, "rev-parse", "HEAD")
    # The pull request: seeds move from 06:30 to 05:30, and out/ is regenerated and committed with it.
    gen_yml = project / "gen.yml"
    gen_yml.write_text(gen_yml.read_text().replace('daily>: "06:30:00"', 'daily>: "05:30:00"'))
    shutil.copytree(parsed_shop / "target", project / "target")
    regen = subprocess.run([str(BIN / "gen"), "workflows", "--project-dir", str(project), "--out", "out",
                            "-q"], cwd=repo, capture_output=True, text=True, check=False)
    assert regen.returncode == 0, regen.stderr
    shutil.rmtree(project / "target")  # the workflow parses for itself
    git(repo, "commit", "-q", "-am", "seeds earlier")

    data = workflow()
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    summary = tmp_path / "step-summary.md"
    env = env_with_venv(RUNNER_TEMP=str(runner_temp), GITHUB_STEP_SUMMARY=str(summary),
                        **{k: str(v) for k, v in data["env"].items()})
    values = {"github.event.pull_request.base.sha": base_sha}
    found = steps()
    for step_id in ("parse", "diff", "check"):
        done = run_step(found[step_id], repo, env, values)
        assert done.returncode == 0, f"step {step_id}:\n{done.stdout}\n{done.stderr}"

    comment = (repo / "comment.md").read_text()
    assert comment.startswith("<!-- gen diff -->\n### Digdag workflows (gen diff)\n")
    assert "| `countries` | `daily>: 06:30:00 (Asia/Tokyo)` | `daily>: 05:30:00 (Asia/Tokyo)` |" in comment
    assert summary.read_text() == comment

    # The same check step fails (exit 1) when the branch forgets to regenerate out/.
    gen_yml.write_text(gen_yml.read_text().replace('daily>: "05:30:00"', 'daily>: "04:30:00"'))
    stale = run_step(found["check"], repo, env, values)
    assert stale.returncode == 1
    assert "out is not up to date" in stale.stderr
