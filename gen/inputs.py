"""Where a run reads from: the typed record of the CLI's input flags, and the paths they lead to.

Kept apart from the pipeline (and its imports) so that a run answered by the up-to-date record
(gen.stamp) loads nothing else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Inputs:
    """Where a run reads from."""

    project_dir: Path
    manifest: Path | None = None
    config: Path | None = None
    parse: bool = False
    profiles_dir: Path | None = None
    project_name: str | None = None
    templates: str | None = None


def resolve_manifest(inputs: Inputs) -> Path:
    """The manifest path to read, running `dbt parse` first when asked."""
    default = inputs.project_dir / "target" / "manifest.json"
    if inputs.manifest is None and not (inputs.project_dir / "dbt_project.yml").is_file() and (
            inputs.parse or not default.is_file()):
        from gen.errors import ManifestError

        raise ManifestError("is not a dbt project (no dbt_project.yml): run gen in your dbt project, or pass "
                            "--project-dir or --manifest", source=str(inputs.project_dir))
    if inputs.parse:
        from gen.dbtparse import parse_project

        return parse_project(inputs.project_dir, profiles_dir=inputs.profiles_dir)
    return inputs.manifest or default


def config_path(inputs: Inputs) -> Path:
    """The gen.yml to read: --config, else gen.yml in the project folder."""
    return inputs.config or inputs.project_dir / "gen.yml"


_NOT_SOURCES = {"target", "logs", "dbt_packages", "dbt_modules", "node_modules", "out", "venv"}
_SOURCE_SUFFIXES = (".sql", ".yml", ".yaml", ".py", ".csv", ".md")


def stale_manifest(inputs: Inputs) -> str | None:
    """A warning when the default target/manifest.json is older than a file of the dbt project: a schedule
    changed in schema YAML since the last `dbt parse` would be silently ignored."""
    manifest = inputs.project_dir / "target" / "manifest.json"
    if inputs.parse or inputs.manifest is not None or not (inputs.project_dir / "dbt_project.yml").is_file():
        return None
    try:
        parsed = manifest.stat().st_mtime
    except OSError:
        return None
    newest: tuple[float, str] | None = None
    for folder, dirs, files in os.walk(inputs.project_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _NOT_SOURCES]
        for name in files:
            if name.endswith(_SOURCE_SUFFIXES):
                path = os.path.join(folder, name)
                try:
                    changed = os.stat(path).st_mtime
                except OSError:
                    continue
                if changed > parsed and (newest is None or changed > newest[0]):
                    newest = (changed, path)
    if newest is None:
        return None
    return (f"{manifest} is older than {newest[1]}: this run reads the project as it was at the last `dbt parse`; "
            "run `dbt parse` first, or pass --parse")
