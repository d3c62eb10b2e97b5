"""A picture of the workflows and their dependencies, coloured by schedule: Mermaid or Graphviz DOT. Pure.

Mermaid renders inside GitHub and GitLab Markdown (pull requests, READMEs); DOT goes to Graphviz for
SVG or PNG. An arrow points from the upstream workflow to the one that reads it; a dashed arrow is a
dependency without a require> task (the two schedules share no grid, see requires.unaligned).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gen.errors import PlanError
from gen.graph import reachable, readers_of
from gen.ir import Plan, Workflow

# fill, stroke per schedule kind: light fills so black text stays readable in light and dark themes.
COLOURS: Mapping[str, tuple[str, str]] = {
    "minutes_interval": ("#fde68a", "#b45309"),
    "hourly": ("#fecaca", "#b91c1c"),
    "daily": ("#bfdbfe", "#1d4ed8"),
    "weekly": ("#bbf7d0", "#15803d"),
    "monthly": ("#e9d5ff", "#7e22ce"),
    "cron": ("#fbcfe8", "#be185d"),
    "unscheduled": ("#e5e7eb", "#4b5563"),
}
KIND_WORDS = {"minutes_interval": "every N minutes", "unscheduled": "no schedule"}


@dataclass(frozen=True, slots=True)
class PictureNode:
    """One workflow box: its name, schedule kind (a COLOURS key) and the lines of its label."""

    name: str
    kind: str
    lines: tuple[str, ...]
    focus: bool


@dataclass(frozen=True, slots=True)
class PictureEdge:
    """upstream -> reader; enforced is False when no require> task backs the dependency."""

    upstream: str
    reader: str
    enforced: bool


@dataclass(frozen=True, slots=True)
class Picture:
    """The nodes and edges to draw, sorted."""

    nodes: tuple[PictureNode, ...]
    edges: tuple[PictureEdge, ...]

    @property
    def kinds(self) -> tuple[str, ...]:
        """Schedule kinds present, in legend order."""
        present = {n.kind for n in self.nodes}
        return tuple(k for k in COLOURS if k in present)


def schedule_words(workflow: Workflow) -> str:
    """`daily 07:00:00`, `cron 15 6 * * *` or `no schedule`."""
    if workflow.schedule is None:
        return "no schedule"
    return f"{workflow.schedule.kind.replace('_', ' ')} {workflow.schedule.value}"


def picture_of(plan: Plan, *, select: Iterable[str] = (), depth: int | None = None) -> Picture:
    """The whole plan, or the neighbourhood (upstream and downstream, `depth` steps) of `select`."""
    workflows = {w.name: w for w in plan.workflows}
    wanted = sorted(set(select))
    for name in wanted:
        if name not in workflows:
            raise PlanError(f"no workflow named {name!r}; there are {len(workflows)}: "
                            f"{', '.join(sorted(workflows)[:10])}{' ...' if len(workflows) > 10 else ''}")
    readers = readers_of(plan.workflows)
    if wanted:
        keep = set(wanted)
        keep |= reachable(wanted, lambda n: workflows[n].upstreams, depth)
        keep |= reachable(wanted, readers.__getitem__, depth)
    else:
        keep = set(workflows)
    nodes = tuple(
        PictureNode(name=name, kind=_kind(workflows[name]),
                    lines=(name, schedule_words(workflows[name]), workflows[name].timezone),
                    focus=name in wanted)
        for name in sorted(keep))
    edges = tuple(
        PictureEdge(upstream=up, reader=w.name, enforced=up in {r.upstream for r in w.requires})
        for w in sorted(plan.workflows, key=lambda w: w.name) if w.name in keep
        for up in sorted(w.upstreams) if up in keep)
    return Picture(nodes=nodes, edges=edges)


def _kind(workflow: Workflow) -> str:
    return workflow.schedule.kind if workflow.schedule else "unscheduled"


# --- Mermaid ---------------------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    """Label text inside ["..."]: Mermaid's entity codes for the characters its parser reads."""
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text


def _mid(name: str) -> str:
    # A prefix keeps workflow names such as `end` or `graph` from reading as Mermaid keywords.
    return f"wf_{name}"


def to_mermaid(picture: Picture) -> str:
    """`flowchart LR` text: one box per workflow, classDef per schedule kind, a legend."""
    out = ["flowchart LR"]
    for node in picture.nodes:
        label = "<br/>".join(_mermaid_text(line) for line in node.lines)
        out.append(f'  {_mid(node.name)}["{label}"]:::{node.kind}')
    for edge in picture.edges:
        arrow = "-->" if edge.enforced else "-. no require .->"
        out.append(f"  {_mid(edge.upstream)} {arrow} {_mid(edge.reader)}")
    if picture.kinds:
        out.append('  subgraph legend["schedule"]')
        out.append("    direction LR")
        out += [f'    key_{kind}["{_mermaid_text(KIND_WORDS.get(kind, kind))}"]:::{kind}'
                for kind in picture.kinds]
        out.append("  end")
    for kind in picture.kinds:
        fill, stroke = COLOURS[kind]
        out.append(f"  classDef {kind} fill:{fill},stroke:{stroke},color:#111827")
    out += [f"  style {_mid(n.name)} stroke-width:4px" for n in picture.nodes if n.focus]
    return "\n".join(out) + "\n"


def to_markdown(picture: Picture) -> str:
    """The Mermaid text in a ```mermaid fence, ready for a README or a pull-request comment."""
    return "```mermaid\n" + to_mermaid(picture) + "```\n"


# --- DOT -------------------------------------------------------------------------------------------


def _dot_id(text: str) -> str:
    # A DOT quoted string escapes backslash and double quote the way JSON does.
    return json.dumps(text, ensure_ascii=False)


def to_dot(picture: Picture) -> str:
    """Graphviz DOT text: rounded boxes filled by schedule kind, a legend cluster."""
    out = ["digraph workflows {", "  rankdir=LR;",
           '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
           '  edge [color="#6b7280"];']
    for node in picture.nodes:
        fill, stroke = COLOURS[node.kind]
        label = "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in node.lines)
        width = ", penwidth=3" if node.focus else ""
        out.append(f'  {_dot_id(node.name)} [label="{label}", fillcolor="{fill}", color="{stroke}"{width}];')
    for edge in picture.edges:
        style = "" if edge.enforced else ' [style=dashed, label="no require"]'
        out.append(f"  {_dot_id(edge.upstream)} -> {_dot_id(edge.reader)}{style};")
    if picture.kinds:
        out += ["  subgraph cluster_legend {", '    label="schedule"; fontname="Helvetica"; color="#d1d5db";']
        for kind in picture.kinds:
            fill, stroke = COLOURS[kind]
            out.append(f'    {_dot_id("key " + kind)} [label={_dot_id(KIND_WORDS.get(kind, kind))}, '
                       f'fillcolor="{fill}", color="{stroke}"];')
        out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"
