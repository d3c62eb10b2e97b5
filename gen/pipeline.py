"""generate(): load -> settings -> graph -> plan -> render (plan_inputs() stops before rendering). The one
Python API the CLI and tests call."""

from __future__ import annotations

from dataclasses import dataclass

from gen.config import Config, load_config
from gen.inputs import Inputs, config_path, resolve_manifest
from gen.ir import Plan
from gen.manifest import Manifest, load_manifest
from gen.plan import plan_workflows
from gen.render import RenderedTree, render_tree

__all__ = ["Generated", "Inputs", "Planned", "config_path", "generate", "load_inputs", "plan_inputs",
           "resolve_manifest"]


@dataclass(frozen=True, slots=True)
class Planned:
    """What the commands that need no files (gen check, gen graph, the base side of gen diff) work on."""

    manifest: Manifest
    config: Config
    plan: Plan


@dataclass(frozen=True, slots=True)
class Generated:
    """The result of one generation: the manifest read, the plan and the rendered files."""

    manifest: Manifest
    config: Config
    plan: Plan
    tree: RenderedTree
    templates: str | None  # the user's template folder, if any


def load_inputs(inputs: Inputs, *, code: bool = False, digest: bool = False) -> tuple[Manifest, Config]:
    """Read the config and the manifest (with `code`, also the SQL of every node and macro, for gen lint;
    with `digest`, the sha256 of the manifest's bytes, for the up-to-date record)."""
    config = load_config(config_path(inputs), required=inputs.config is not None)
    manifest = load_manifest(resolve_manifest(inputs), project_name=inputs.project_name, code=code, digest=digest)
    return manifest, config


def plan_inputs(inputs: Inputs, *, code: bool = False, digest: bool = False) -> Planned:
    """Read the inputs and plan the workflows, without rendering them (`code`, `digest`: see load_inputs)."""
    manifest, config = load_inputs(inputs, code=code, digest=digest)
    return Planned(manifest=manifest, config=config, plan=plan_workflows(manifest, config))


def generate(inputs: Inputs, *, digest: bool = False) -> Generated:
    """Produce the whole Digdag project for a dbt project, in memory (`digest`: see load_inputs)."""
    planned = plan_inputs(inputs, digest=digest)
    templates = inputs.templates or planned.config.templates
    tree = render_tree(planned.plan, user_templates=templates)
    return Generated(manifest=planned.manifest, config=planned.config, plan=planned.plan, tree=tree,
                     templates=templates)
