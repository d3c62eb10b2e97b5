"""Compare two lists of workflow summaries in a reviewer's terms -> a PlanDiff record. Pure.

A workflow that disappears while another appears with exactly the same (non-empty) select list is a
rename, not a removal plus an addition. Models are named by their select text (`fct_orders.v2`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from gen.digread import WorkflowSummary
from gen.nextrun import NextRun, next_run


@dataclass(frozen=True, slots=True)
class ScheduleChange:
    """A workflow's schedule or timezone before and after, with the next run of each from `now`."""

    before: str
    after: str
    next_before: NextRun | None
    next_after: NextRun | None


@dataclass(frozen=True, slots=True)
class WorkflowChange:
    """What changed in one workflow that exists on both sides (under the same name or renamed)."""

    name: str
    renamed_from: str | None
    schedule: ScheduleChange | None
    window: tuple[str, str] | None
    gained: tuple[str, ...]
    lost: tuple[str, ...]
    requires_added: tuple[str, ...]
    requires_removed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AddedWorkflow:
    """A new workflow and its first run from `now`."""

    workflow: WorkflowSummary
    next: NextRun | None


@dataclass(frozen=True, slots=True)
class ModelNote:
    """A model whose scheduling changed: it lost its schedule, left every workflow, or moved."""

    model: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class PlanDiff:
    """Everything that differs between two generated projects, sorted by name."""

    now: datetime
    workflows_before: int
    workflows_after: int
    added: tuple[AddedWorkflow, ...]
    removed: tuple[WorkflowSummary, ...]
    changed: tuple[WorkflowChange, ...]
    unscheduled: tuple[ModelNote, ...]
    dropped: tuple[ModelNote, ...]
    moved: tuple[ModelNote, ...]

    @property
    def renamed(self) -> tuple[tuple[str, str], ...]:
        """(old name, new name) of every renamed workflow."""
        return tuple((c.renamed_from, c.name) for c in self.changed if c.renamed_from is not None)

    @property
    def has_changes(self) -> bool:
        """True when anything a reviewer should see differs."""
        return bool(self.added or self.removed or self.changed or self.unscheduled or self.dropped
                    or self.moved)


def diff_summaries(before: Iterable[WorkflowSummary], after: Iterable[WorkflowSummary], *,
                   now: datetime) -> PlanDiff:
    """Compare the workflows of two projects; next run times are computed from `now`."""
    old = {s.name: s for s in before}
    new = {s.name: s for s in after}
    gone = sorted(set(old) - set(new))
    fresh = sorted(set(new) - set(old))
    renames = _renames(old, new, gone, fresh)
    pairs: list[tuple[WorkflowSummary, WorkflowSummary, str | None]] = [
        (old[n], new[n], None) for n in sorted(set(old) & set(new))]
    pairs += [(old[o], new[n], o) for o, n in renames.items()]
    changes = [c for c in (_change(a, b, renamed, now) for a, b, renamed in pairs) if c is not None]
    renamed_new = set(renames.values())
    added = tuple(AddedWorkflow(workflow=new[n], next=_next(new[n], now))
                  for n in fresh if n not in renamed_new)
    removed = tuple(old[n] for n in gone if n not in renames)
    unscheduled, dropped, moved = _model_notes(old, new, renames)
    return PlanDiff(now=now, workflows_before=len(old), workflows_after=len(new), added=added,
                    removed=removed, changed=tuple(sorted(changes, key=lambda c: c.name)),
                    unscheduled=unscheduled, dropped=dropped, moved=moved)


def _renames(old: Mapping[str, WorkflowSummary], new: Mapping[str, WorkflowSummary], gone: list[str],
             fresh: list[str]) -> dict[str, str]:
    """old name -> new name for workflows whose select list moved whole to a new name."""
    by_selects: dict[tuple[str, ...], list[str]] = {}
    for name in fresh:
        if new[name].selects:
            by_selects.setdefault(new[name].selects, []).append(name)
    out = {}
    for name in gone:
        candidates = by_selects.get(old[name].selects)
        if candidates:
            out[name] = candidates.pop(0)
    return out


def _next(summary: WorkflowSummary, now: datetime) -> NextRun | None:
    return next_run(summary.schedule, summary.timezone, now) if summary.schedule else None


def _change(a: WorkflowSummary, b: WorkflowSummary, renamed_from: str | None,
            now: datetime) -> WorkflowChange | None:
    schedule = None
    if a.schedule != b.schedule or (a.timezone != b.timezone and (a.schedule or b.schedule)):
        schedule = ScheduleChange(before=a.when(), after=b.when(), next_before=_next(a, now),
                                  next_after=_next(b, now))
    window = (a.window, b.window) if a.window and b.window and a.window != b.window else None
    change = WorkflowChange(
        name=b.name, renamed_from=renamed_from, schedule=schedule, window=window,
        gained=tuple(sorted(set(b.selects) - set(a.selects))),
        lost=tuple(sorted(set(a.selects) - set(b.selects))),
        requires_added=tuple(sorted(set(b.requires) - set(a.requires))),
        requires_removed=tuple(sorted(set(a.requires) - set(b.requires))))
    quiet = (renamed_from is None and schedule is None and window is None and not change.gained
             and not change.lost and not change.requires_added and not change.requires_removed)
    return None if quiet else change


def _model_notes(old: Mapping[str, WorkflowSummary], new: Mapping[str, WorkflowSummary],
                 renames: Mapping[str, str]) -> tuple[tuple[ModelNote, ...], ...]:
    home_before = {m: s for s in old.values() for m in s.selects}
    home_after = {m: s for s in new.values() for m in s.selects}
    unscheduled, dropped, moved = [], [], []
    for model in sorted(home_before):
        a = home_before[model]
        b = home_after.get(model)
        if b is None:
            dropped.append(ModelNote(model=model, before=a.name, after=None))
            continue
        if a.schedule is not None and b.schedule is None:
            unscheduled.append(ModelNote(model=model, before=a.name, after=b.name))
        if b.name != renames.get(a.name, a.name):
            moved.append(ModelNote(model=model, before=a.name, after=b.name))
    return tuple(unscheduled), tuple(dropped), tuple(moved)
