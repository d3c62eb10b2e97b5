"""generate(): load -> settings -> graph -> plan -> render. The one Python API the CLI and tests call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gen.config import Config, load_config
from gen.ir import Plan
from gen.manifest import Manifest, load_manifest
from gen.plan import plan_workflows
from gen.render import render_tree


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


@dataclass(frozen=True, slots=True)
class Generated:
    """The result of one generation: the manifest read, the plan and the rendered files."""

    manifest: Manifest
    config: Config
    plan: Plan
    tree: dict[str, str]


def resolve_manifest(inputs: Inputs) -> Path:
    """The manifest path to read, running `dbt parse` first when asked."""
    if inputs.parse:
        from gen.dbtparse import parse_project

        return parse_project(inputs.project_dir, profiles_dir=inputs.profiles_dir)
    return inputs.manifest or inputs.project_dir / "target" / "manifest.json"


def load_inputs(inputs: Inputs) -> tuple[Manifest, Config]:
    """Read the config and the manifest."""
    config_path = inputs.config or inputs.project_dir / "gen.yml"
    config = load_config(config_path, required=inputs.config is not None)
    manifest = load_manifest(resolve_manifest(inputs), project_name=inputs.project_name)
    return manifest, config


def generate(inputs: Inputs) -> Generated:
    """Produce the whole Digdag project for a dbt project, in memory."""
    manifest, config = load_inputs(inputs)
    plan = plan_workflows(manifest, config)
    tree = render_tree(plan, user_templates=inputs.templates or config.templates)
    return Generated(manifest=manifest, config=config, plan=plan, tree=tree)
