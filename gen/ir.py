"""The records templates receive: a Plan of Workflows, each with its require> tasks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from gen.requires import Required
from gen.schedule import Schedule


class RequireTask(msgspec.Struct, frozen=True, gc=False):
    """One `require>` task (a `loop>` of them when a reader session needs several upstream sessions):
    which sessions of `upstream` one reader session needs, as a session-arithmetic record that rendering
    turns into Digdag expressions."""

    task: str
    upstream: str
    required: Required
    why: str


class Workflow(msgspec.Struct, frozen=True, gc=False):
    """One generated Digdag workflow: the dbt nodes it builds and everything its .dig file says.

    (Records made once per workflow or edge of a large project are frozen msgspec Structs: built several
    times faster than frozen dataclasses, read the same way.)"""

    name: str
    slug: str
    node_ids: tuple[str, ...]
    labels: tuple[str, ...]
    selects: tuple[str, ...]
    schedule: Schedule | None
    timezone: str
    window: str
    requires: tuple[RequireTask, ...]
    upstreams: tuple[str, ...]
    k8s: Mapping[str, Any]
    folder: tuple[str, ...] = ()  # the dbt folder of its (first) node, e.g. ("models", "marts", "finance")
    blocks: Mapping[str, Any] = msgspec.field(default_factory=dict)  # retry, error, sla, export (gen.blocks)

    @property
    def file(self) -> str:
        """The .dig file name, relative to the project root."""
        return f"{self.name}.dig"


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything render needs: the workflows plus project-wide settings, and what the run noticed."""

    project: str
    dbt_project: str
    generator_version: str
    runner: str
    session_time_mode: str
    indirect_selection: str
    vars: Mapping[str, Any]
    chart_values: Mapping[str, Any]
    k8s_defaults: Mapping[str, Any]
    max_project_bytes: int
    workflows: tuple[Workflow, ...]
    excluded: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def unscheduled(self) -> int:
        """How many workflows have no schedule (run by hand or by require>)."""
        return sum(1 for w in self.workflows if w.schedule is None)
