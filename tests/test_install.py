"""gen installed the way users install it: the wheel, into a fresh virtualenv outside the repository,
generates the example's Digdag project exactly as the checkout does."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import EXAMPLE, REPO

VENV_BIN = REPO / ".venv" / "bin"


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          check=False, env=env)
    assert done.returncode == 0, f"{args}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


def test_the_wheel_in_a_fresh_virtualenv_generates_the_example(tmp_path: Path) -> None:
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path / "dist", REPO, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("gen-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("gen/templates/digdag/workflow.dig.j2", "gen/templates/digdag/scripts/run-dbt.sh",
                   "gen/templates/digdag/charts/dbt-job/.helmignore", "gen/sessions.js",
                   "gen/dbt_package/digdag_session/dbt_project.yml"):
        assert needed in names, needed
    run(sys.executable, "-m", "venv", tmp_path / "venv", cwd=tmp_path)
    run(tmp_path / "venv" / "bin" / "python", "-m", "pip", "install", "-q", wheel, cwd=tmp_path)
    run(VENV_BIN / "dbt", "parse", "--quiet", "--project-dir", EXAMPLE, "--profiles-dir", EXAMPLE,
        "--target-path", tmp_path / "target", cwd=tmp_path)
    run(tmp_path / "venv" / "bin" / "gen", "workflows", "--manifest", tmp_path / "target" / "manifest.json",
        "--project-dir", EXAMPLE, "--out", tmp_path / "out", cwd=tmp_path)
    compared = filecmp.dircmp(tmp_path / "out", REPO / "out")
    mismatch: list[str] = []

    def walk(cmp: filecmp.dircmp[str], prefix: str) -> None:
        mismatch.extend(prefix + n for n in cmp.left_only + cmp.right_only + cmp.diff_files + cmp.funny_files)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(compared, "")
    assert not mismatch, mismatch
