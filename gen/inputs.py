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
    if inputs.parse:
        from gen.dbtparse import parse_project

        return parse_project(inputs.project_dir, profiles_dir=inputs.profiles_dir)
    return inputs.manifest or inputs.project_dir / "target" / "manifest.json"


def config_path(inputs: Inputs) -> Path:
    """The gen.yml to read: --config, else gen.yml in the project folder."""
    return inputs.config or inputs.project_dir / "gen.yml"
