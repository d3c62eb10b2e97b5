"""Summaries of a generated Digdag project, read back from its .dig files or taken from a Plan.

`gen diff` compares what a reviewer cares about (names, schedules, timezones, select lists and
require> dependencies), so both sides are reduced to the same WorkflowSummary records. Reading never
writes: out/ is only inspected, and only .dig files that carry gen's generated-file header count.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gen.errors import GenError, ProjectReadError, yaml_problem
from gen.ir import Plan
from gen.outdir import is_owned
from gen.schedule import Schedule, parse_schedule

_WINDOW_RE = re.compile(r"^# .*data window: (\w+) session", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class WorkflowSummary:
    """What one workflow builds and when: the parts of a .dig file a reviewer reads."""

    name: str
    selects: tuple[str, ...]
    schedule: Schedule | None
    timezone: str
    window: str | None
    requires: tuple[str, ...]

    def when(self) -> str:
        """The schedule in words, e.g. `daily>: 07:00:00 (Asia/Tokyo)` or `no schedule`."""
        return f"{self.schedule.describe()} ({self.timezone})" if self.schedule else "no schedule"


@dataclass(frozen=True, slots=True)
class ProjectSummary:
    """Every gen-written workflow of a Digdag project folder, plus the .dig files gen did not write."""

    workflows: tuple[WorkflowSummary, ...]
    foreign: tuple[str, ...]


def summarize_plan(plan: Plan) -> tuple[WorkflowSummary, ...]:
    """The summaries of a freshly planned project, sorted by name."""
    return tuple(sorted(
        (WorkflowSummary(name=w.name, selects=tuple(sorted(w.selects)), schedule=w.schedule,
                         timezone=w.timezone, window=w.window,
                         requires=tuple(sorted({r.upstream for r in w.requires})))
         for w in plan.workflows), key=lambda s: s.name))


def read_project(folder: Path, *, known: Mapping[str, tuple[str, WorkflowSummary]] | None = None) -> ProjectSummary:
    """Read every .dig file gen wrote in `folder`, or in its project folders when the output is split into
    several Digdag projects (a missing folder is an empty project).

    `known` maps a file's path (relative to `folder`) to the text gen renders for it now and that
    workflow's summary: a file holding exactly that text is not parsed, its summary is the one given."""
    known = known or {}
    if not folder.exists():
        return ProjectSummary(workflows=(), foreign=())
    if not folder.is_dir():
        raise ProjectReadError("is not a folder", source=str(folder))
    workflows, foreign = [], []
    for path in sorted([*folder.glob("*.dig"), *folder.glob("*/*.dig")]):
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ProjectReadError(f"cannot be read: {e.strerror or e}", source=str(path)) from e
        rel = path.relative_to(folder).as_posix()
        if not is_owned(data):
            foreign.append(rel)
            continue
        text = data.decode("utf-8", "replace")
        same = known.get(rel)
        if same is not None and same[0] == text:
            workflows.append(same[1])
            continue
        workflows.append(read_workflow(path.stem, text, where=str(path)))
    return ProjectSummary(workflows=tuple(workflows), foreign=tuple(foreign))


class _DigLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (libyaml's when PyYAML has it: several times faster on thousands of files)
    that also reads Digdag's `!include : file` keys (as `!include file`)."""


def _include(loader: Any, node: yaml.Node) -> str:
    return f"!include {loader.construct_scalar(node)}" if isinstance(node, yaml.ScalarNode) else "!include"


_DigLoader.add_constructor("!include", _include)


def read_workflow(name: str, text: str, *, where: str) -> WorkflowSummary:
    """One .dig file's summary: its schedule and timezone, require> targets and select list."""
    try:
        doc = yaml.load(text, Loader=_DigLoader)
    except yaml.YAMLError as e:
        raise ProjectReadError(yaml_problem(e), source=where) from e
    if not isinstance(doc, dict):
        raise ProjectReadError("the top level is not a mapping", source=where)
    try:
        schedule = parse_schedule(doc.get("schedule"), where=f"{where}: schedule")
    except GenError as e:
        raise ProjectReadError(str(e)) from e
    timezone = doc.get("timezone", "UTC")
    if not isinstance(timezone, str):
        raise ProjectReadError(f"timezone must be a name, got {timezone!r}", source=where)
    selects = _selects(doc, where)
    window = _WINDOW_RE.search(text)
    return WorkflowSummary(name=name, selects=selects, schedule=schedule, timezone=timezone,
                           window=window.group(1) if window else None,
                           requires=tuple(sorted(set(_requires(doc)))))


def _requires(value: Any) -> list[str]:
    """Every `require>` target anywhere in the task tree (plain, or inside loop> `_do`)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "require>" and isinstance(item, str):
                found.append(item)
            else:
                found.extend(_requires(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_requires(item))
    return found


def _selects(doc: dict[str, Any], where: str) -> tuple[str, ...]:
    exported = doc.get("_export")
    text = exported.get("gen_selects") if isinstance(exported, dict) else None
    if text is None:
        raise ProjectReadError("no _export.gen_selects, the workflow's select list; was it written by gen's "
                               "templates?", source=where)
    try:
        selects = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError as e:
        raise ProjectReadError(f"gen_selects is not valid JSON: {e}", source=where) from e
    if not isinstance(selects, list) or not all(isinstance(s, str) for s in selects):
        raise ProjectReadError(f"gen_selects must be a JSON list of strings, got {selects!r}", source=where)
    return tuple(sorted(selects))
