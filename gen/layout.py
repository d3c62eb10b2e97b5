"""How the generated workflows are laid out into Digdag projects. Pure.

Digdag's server refuses a pushed project whose files add up to more than its archive limit
(`api.max_archive_total_size_limit`, 2 MiB by default). A project that would pass it is split along the
dbt project's folders: first by the folder under `models/` (staging, marts, ...), then deeper where a
folder alone is still too large, and a folder of more than fits is cut into numbered parts by workflow
name. A reader's `require>` of a workflow in another project names that project (`project_name:`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gen.errors import PlanError


@dataclass(frozen=True, slots=True)
class Sized:
    """A workflow as the layout sees it: its name, its dbt folder and the bytes of its .dig file."""

    name: str
    folder: tuple[str, ...]
    size: int


def partition(items: Iterable[Sized], *, project: str, budget: int) -> dict[str, str]:
    """Workflow name -> Digdag project name, each project's workflows adding up to at most `budget`."""
    out: dict[str, str] = {}
    items = sorted(items, key=lambda s: (s.folder, s.name))
    for parts, members in _split(items, depth=_common(items), budget=budget):
        if parts[:1] == ("models",) and len(parts) > 1:
            parts = parts[1:]  # bench_marts_finance, not bench_models_marts_finance
        name = "_".join([project, *parts]) if parts else project
        for member in members:
            out[member.name] = _clean(name)
    return out


def _common(items: list[Sized]) -> int:
    """Folders every workflow shares (`models`) say nothing about where to split."""
    folders = [s.folder for s in items]
    depth = 0
    while folders and all(len(f) > depth and f[depth] == folders[0][depth] for f in folders):
        depth += 1
    return depth


def _split(items: list[Sized], *, depth: int, budget: int, label: tuple[str, ...] = ()
           ) -> list[tuple[tuple[str, ...], list[Sized]]]:
    if sum(s.size for s in items) <= budget:
        return [(label, items)]
    deeper: dict[str, list[Sized]] = defaultdict(list)
    for item in items:
        deeper[item.folder[depth] if len(item.folder) > depth else ""].append(item)
    if len(deeper) > 1 or "" not in deeper:
        out = []
        for key in sorted(deeper):
            out.extend(_split(deeper[key], depth=depth + 1, budget=budget, label=(*label, key) if key else label))
        return out
    return _chunks(items, budget=budget, label=label)


def _chunks(items: list[Sized], *, budget: int, label: tuple[str, ...]) -> list[tuple[tuple[str, ...], list[Sized]]]:
    """Consecutive runs of workflows (by name) that fit the budget, numbered from 1."""
    runs: list[list[Sized]] = [[]]
    total = 0
    for item in sorted(items, key=lambda s: s.name):
        if item.size > budget:
            raise PlanError(f"workflow {item.name!r} alone is {item.size:,} bytes, more than a Digdag project may hold "
                            f"({budget:,} bytes left after the shared files); raise max_project_bytes in gen.yml "
                            "together with the server's api.max_archive_total_size_limit")
        if runs[-1] and total + item.size > budget:
            runs.append([])
            total = 0
        runs[-1].append(item)
        total += item.size
    return [((*label, str(n)), run) for n, run in enumerate(runs, start=1)]


def _clean(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def push_order(projects: Iterable[str], edges: Mapping[str, set[str]]) -> tuple[str, ...]:
    """Projects with every project they require from first (by name where that leaves a choice; projects
    that require each other in a cycle follow in name order)."""
    remaining = set(projects)
    order: list[str] = []
    while remaining:
        ready = sorted(p for p in remaining if not ((edges.get(p, set()) - {p}) & remaining))
        step = ready[:1] or sorted(remaining)[:1]
        order.extend(step)
        remaining.difference_update(step)
    return tuple(order)
