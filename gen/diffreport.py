"""A PlanDiff in words: plain text for a terminal, Markdown for a pull-request comment, or JSON.

Formatting only: nothing here prints or decides exit codes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from gen.diff import AddedWorkflow, ModelNote, PlanDiff, WorkflowChange
from gen.digread import WorkflowSummary
from gen.nextrun import NextRun
from gen.words import plural

FORMATS = ("text", "markdown", "json")
MARKDOWN_MARK = "<!-- gen diff -->"


def format_diff(diff: PlanDiff, fmt: str) -> str:
    """The report in one of FORMATS, ending with a newline."""
    if fmt == "text":
        return format_text(diff)
    if fmt == "markdown":
        return format_markdown(diff)
    if fmt == "json":
        return format_json(diff)
    raise ValueError(f"unknown format {fmt!r}")


def headline(diff: PlanDiff) -> str:
    """One line: counts of what changed, or that nothing did."""
    if not diff.has_changes:
        return f"no workflow changes ({plural(diff.workflows_after, 'workflow')})"
    renamed = len(diff.renamed)
    changed = sum(1 for c in diff.changed if c.renamed_from is None or _has_more(c))
    counts = ((len(diff.added), "added"), (len(diff.removed), "removed"), (renamed, "renamed"),
              (changed, "changed"))
    parts = [f"{count} {word}" for count, word in counts if count] or ["models moved"]
    return f"{', '.join(parts)} ({diff.workflows_before} -> {plural(diff.workflows_after, 'workflow')})"


def _has_more(change: WorkflowChange) -> bool:
    """True when a renamed workflow also changed in another way."""
    return bool(change.schedule or change.window or change.gained or change.lost or change.requires_added
                or change.requires_removed)


def _when(moment: datetime | None) -> str:
    return moment.isoformat(sep=" ", timespec="minutes") if moment else "never"


def _run(run: NextRun | None) -> str:
    return _when(run.run_at) if run else "never"


def _list(items: tuple[str, ...], code: bool = False) -> str:
    return ", ".join(f"`{i}`" if code else i for i in items)


# --- text -----------------------------------------------------------------------------------------


def format_text(diff: PlanDiff) -> str:
    """Plain text, one fact per line, prefixed + (added), - (removed), ~ (changed), ! (attention)."""
    lines = [f"gen diff: {headline(diff)}"]
    for added in diff.added:
        w = added.workflow
        lines.append(f"+ workflow {w.name} added: {w.when()}, builds {_list(w.selects)}; "
                     f"next run {_run(added.next)}")
    for gone in diff.removed:
        lines.append(f"- workflow {gone.name} removed (was {gone.when()}, built {_list(gone.selects)})")
    for change in diff.changed:
        lines.extend(_text_change(change))
    lines.extend(_text_notes(diff))
    if diff.has_changes:
        lines.append(f"(next runs from {_when(diff.now)})")
    return "\n".join(lines) + "\n"


def _text_change(c: WorkflowChange) -> list[str]:
    out = []
    if c.renamed_from:
        out.append(f"~ workflow {c.renamed_from} renamed to {c.name} (same select list)")
    if c.schedule:
        s = c.schedule
        out.append(f"~ {c.name}: schedule {s.before} -> {s.after}; next run {_run(s.next_before)} -> "
                   f"{_run(s.next_after)}")
    if c.window:
        out.append(f"~ {c.name}: data window {c.window[0]} -> {c.window[1]}")
    if c.gained:
        out.append(f"~ {c.name}: now also builds {_list(c.gained)}")
    if c.lost:
        out.append(f"~ {c.name}: no longer builds {_list(c.lost)}")
    if c.requires_added:
        out.append(f"~ {c.name}: new require> on {_list(c.requires_added)}")
    if c.requires_removed:
        out.append(f"~ {c.name}: require> removed on {_list(c.requires_removed)}")
    return out


def _text_notes(diff: PlanDiff) -> list[str]:
    out = [f"! model {n.model} is no longer scheduled (was in {n.before}, now in {n.after}, which has no "
           "schedule)" for n in diff.unscheduled]
    out += [f"! model {n.model} left every workflow (was in {n.before}); nothing builds it now"
            for n in diff.dropped]
    out += [f"~ model {n.model} moved from workflow {n.before} to {n.after}" for n in diff.moved]
    return out


# --- markdown -------------------------------------------------------------------------------------


def format_markdown(diff: PlanDiff) -> str:
    """A pull-request comment: a headline, then one section per kind of change."""
    out = [MARKDOWN_MARK, "### Digdag workflows (gen diff)", ""]
    if not diff.has_changes:
        out.append(f"No workflow changes ({plural(diff.workflows_after, 'workflow')}).")
        return "\n".join(out) + "\n"
    out += [f"**{headline(diff)}**", ""]
    if diff.unscheduled or diff.dropped:
        out += ["#### Needs attention", ""]
        out += [f"- :warning: model `{n.model}` is **no longer scheduled**: it moved from `{n.before}` to "
                f"`{n.after}`, which has no schedule" if n.before != n.after else
                f"- :warning: model `{n.model}` is **no longer scheduled** (workflow `{n.after}` lost its "
                "schedule)" for n in diff.unscheduled]
        out += [f"- :warning: model `{n.model}` **left every workflow** (was in `{n.before}`); nothing "
                "builds it" for n in diff.dropped]
        out.append("")
    if diff.added:
        out += ["#### Added", "", "| workflow | schedule | builds | next run |", "|---|---|---|---|"]
        out += [_md_added(a) for a in diff.added]
        out.append("")
    if diff.removed:
        out += ["#### Removed", "", "| workflow | schedule | built |", "|---|---|---|"]
        out += [f"| `{w.name}` | {_md(w.when())} | {_list(w.selects, code=True)} |" for w in diff.removed]
        out.append("")
    if diff.renamed:
        out += ["#### Renamed", ""]
        out += [f"- `{old}` → `{new}` (same select list)" for old, new in diff.renamed]
        out.append("")
    schedules = [c for c in diff.changed if c.schedule]
    if schedules:
        out += ["#### Schedule changes", "",
                "| workflow | before | after | next run before | next run after |", "|---|---|---|---|---|"]
        for c in schedules:
            s = c.schedule
            assert s is not None
            out.append(f"| `{c.name}` | {_md(s.before)} | {_md(s.after)} | {_run(s.next_before)} | "
                       f"{_run(s.next_after)} |")
        out.append(f"\nNext runs counted from {_when(diff.now)}.")
        out.append("")
    others = [c for c in diff.changed
              if c.window or c.gained or c.lost or c.requires_added or c.requires_removed]
    if others:
        out += ["#### Workflow contents", ""]
        for c in others:
            out.extend(_md_contents(c))
        out.append("")
    if diff.moved:
        out += ["#### Models that moved", ""]
        out += [f"- `{n.model}`: `{n.before}` → `{n.after}`" for n in diff.moved]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _md(text: str) -> str:
    """Table-cell text: code-formatted schedule, pipes escaped."""
    return "no schedule" if text == "no schedule" else "`" + text.replace("|", "\\|") + "`"


def _md_added(a: AddedWorkflow) -> str:
    w = a.workflow
    return f"| `{w.name}` | {_md(w.when())} | {_list(w.selects, code=True)} | {_run(a.next)} |"


def _md_contents(c: WorkflowChange) -> list[str]:
    out = []
    if c.window:
        out.append(f"- `{c.name}`: data window `{c.window[0]}` → `{c.window[1]}`")
    if c.gained:
        out.append(f"- `{c.name}`: now also builds {_list(c.gained, code=True)}")
    if c.lost:
        out.append(f"- `{c.name}`: no longer builds {_list(c.lost, code=True)}")
    if c.requires_added:
        out.append(f"- `{c.name}`: new `require>` on {_list(c.requires_added, code=True)}")
    if c.requires_removed:
        out.append(f"- `{c.name}`: `require>` removed on {_list(c.requires_removed, code=True)}")
    return out


# --- json -----------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _json_run(run: NextRun | None) -> dict[str, str | None] | None:
    return {"session_time": _iso(run.session_time), "run_at": _iso(run.run_at)} if run else None


def _json_workflow(w: WorkflowSummary) -> dict[str, Any]:
    return {"name": w.name, "schedule": w.schedule.describe() if w.schedule else None, "timezone": w.timezone,
            "window": w.window, "selects": list(w.selects), "requires": list(w.requires)}


def _json_note(n: ModelNote) -> dict[str, str | None]:
    return {"model": n.model, "before": n.before, "after": n.after}


def to_json_data(diff: PlanDiff) -> dict[str, Any]:
    """The diff as plain data (stable keys) for other tools."""
    return {
        "changed": diff.has_changes,
        "now": _iso(diff.now),
        "workflows_before": diff.workflows_before,
        "workflows_after": diff.workflows_after,
        "added": [{**_json_workflow(a.workflow), "next_run": _json_run(a.next)} for a in diff.added],
        "removed": [_json_workflow(w) for w in diff.removed],
        "renamed": [{"from": old, "to": new} for old, new in diff.renamed],
        "workflow_changes": [{
            "name": c.name, "renamed_from": c.renamed_from,
            "schedule": {"before": c.schedule.before, "after": c.schedule.after,
                         "next_run_before": _json_run(c.schedule.next_before),
                         "next_run_after": _json_run(c.schedule.next_after)} if c.schedule else None,
            "window": {"before": c.window[0], "after": c.window[1]} if c.window else None,
            "selects_gained": list(c.gained), "selects_lost": list(c.lost),
            "requires_added": list(c.requires_added), "requires_removed": list(c.requires_removed),
        } for c in diff.changed],
        "models_unscheduled": [_json_note(n) for n in diff.unscheduled],
        "models_dropped": [_json_note(n) for n in diff.dropped],
        "models_moved": [_json_note(n) for n in diff.moved],
    }


def format_json(diff: PlanDiff) -> str:
    """Indented, key-sorted JSON."""
    return json.dumps(to_json_data(diff), indent=2, sort_keys=True) + "\n"
