"""Where a run reads from: the typed record of the CLI's input flags, and the paths they lead to.

Kept apart from the pipeline (and its imports) so that a run answered by the up-to-date record
(gen.stamp) loads nothing else.
"""

from __future__ import annotations

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
