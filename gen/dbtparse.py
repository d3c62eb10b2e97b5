"""Run `dbt parse` through dbt-core's programmatic runner. dbt-core is imported only here, only when asked."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from gen.errors import DbtError


def parse_project(project_dir: Path, *, profiles_dir: Path | None = None, target: str | None = None) -> Path:
    """Write <project>/target/manifest.json with `dbt parse` and return its path."""
    if not (project_dir / "dbt_project.yml").is_file():
        raise DbtError("no dbt_project.yml here; pass --project-dir", source=str(project_dir))
    try:
        from dbt.cli.main import dbtRunner
    except ImportError as e:
        raise DbtError("--parse needs dbt-core installed (pip install 'gen[dbt]')", source=str(project_dir)) from e
    args = ["parse", "--project-dir", str(project_dir), "--quiet", "--no-use-colors"]
    if profiles_dir is None and (project_dir / "profiles.yml").is_file():
        profiles_dir = project_dir
    if profiles_dir is not None:
        args += ["--profiles-dir", str(profiles_dir)]
    if target:
        args += ["--target", target]
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink):
            result = dbtRunner().invoke(args)
    except Exception as e:  # dbt raises many kinds; all mean the parse failed
        raise DbtError(f"dbt parse failed: {_one_line(str(e))}", source=str(project_dir)) from e
    if not result.success:
        detail = _one_line(str(result.exception) if result.exception else sink.getvalue()) or "see `dbt parse`"
        raise DbtError(f"dbt parse failed: {detail}", source=str(project_dir))
    manifest = project_dir / "target" / "manifest.json"
    if not manifest.is_file():
        raise DbtError("dbt parse succeeded but wrote no target/manifest.json", source=str(project_dir))
    return manifest


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines)[:500]
