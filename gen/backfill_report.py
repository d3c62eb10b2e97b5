"""What `gen backfill` prints: the plan, a line per change while it runs, and the summary (text or JSON)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gen.backfill import BackfillPlan
from gen.backfill_run import BLOCKED, DONE_BEFORE, FAILED, RUNNING, SUCCEEDED, Event, Outcome, SessionRun
from gen.words import plural


def _when(t: datetime) -> str:
    return t.isoformat()


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Rows as left-aligned columns two spaces apart."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def plan_lines(plan: BackfillPlan) -> list[str]:
    """The plan as a table: workflows in the order they start, each with its sessions' count and span."""
    owners = ", ".join(w.name for w in plan.workflows if w.selected)
    scope = ", and every workflow that reads them" if plan.downstream else ""
    lines = [f"backfill {plan.id}: {plural(plan.session_count, 'session')} of "
             f"{plural(len(plan.workflows), 'workflow')}, data from {_when(plan.start)} to {_when(plan.stop)}",
             f"re-runs: {owners} (--select {' '.join(plan.selectors)}){scope}", ""]
    rows = [("order", "workflow", "schedule", "sessions", "first session", "last session", "reads")]
    for index, w in enumerate(plan.workflows, 1):
        rows.append((str(index), w.name, f"{w.schedule} {w.timezone}",
                     str(len(w.sessions)), _when(w.sessions[0]) if w.sessions else "-",
                     _when(w.sessions[-1]) if w.sessions else "-", ", ".join(w.reads) or "-"))
    lines += _table(rows)
    lines += [f"note: {note}" for note in plan.notes]
    return lines


def plan_json(plan: BackfillPlan, outcome: Outcome | None = None) -> str:
    """The plan (and, after --execute, every session's result) for scripts."""
    data: dict[str, Any] = {
        "id": plan.id, "from": _when(plan.start), "to": _when(plan.stop), "selectors": list(plan.selectors),
        "downstream": plan.downstream, "session_count": plan.session_count,
        "workflows": [{"name": w.name, "schedule": w.schedule, "timezone": w.timezone, "selected": w.selected,
                       "reads": list(w.reads), "count": len(w.sessions), "sessions": [_when(t) for t in w.sessions]}
                      for w in plan.workflows],
        "notes": list(plan.notes)}
    if outcome is not None:
        data["result"] = {"ok": outcome.ok, "counts": dict(sorted(Counter(r.state for r in outcome.runs).items())),
                          "sessions": [{"workflow": r.workflow, "session_time": _when(r.time), "state": r.state,
                                        "attempt": r.attempt or None, "note": r.note or None} for r in outcome.runs]}
    return json.dumps(data, indent=2, ensure_ascii=False)


class Progress:
    """One line per change, with where the session's workflow stands."""

    def __init__(self, plan: BackfillPlan) -> None:
        self.total = {w.name: len(w.sessions) for w in plan.workflows}
        self.runs: dict[tuple[str, datetime], SessionRun] = {}

    def line(self, event: Event) -> str:
        run = event.run
        self.runs[(run.workflow, run.time)] = run
        states = Counter(r.state for r in self.runs.values() if r.workflow == run.workflow)
        done = states[SUCCEEDED] + states[DONE_BEFORE]
        stand = (f"{run.workflow}: {done}/{self.total[run.workflow]} done, {states[RUNNING]} running, "
                 f"{states[FAILED]} failed" + (f", {states[BLOCKED]} blocked" if states[BLOCKED] else ""))
        return f"{run.workflow} {_when(run.time)}: {event.message}  [{stand}]"


def summary_lines(plan: BackfillPlan, outcome: Outcome) -> list[str]:
    """Per workflow: sessions succeeded, skipped as done before, failed and blocked; then what failed."""
    rows = [("workflow", "sessions", "succeeded", "done before", "failed", "blocked")]
    for w in plan.workflows:
        states = Counter(r.state for r in outcome.runs if r.workflow == w.name)
        rows.append((w.name, str(len(w.sessions)), str(states[SUCCEEDED]), str(states[DONE_BEFORE]),
                     str(states[FAILED]), str(states[BLOCKED])))
    lines = [f"backfill {plan.id}: " + ("every session succeeded" if outcome.ok else
             f"{plural(outcome.count(FAILED), 'session')} failed, {outcome.count(BLOCKED)} not run because "
             "what they read failed; run the same command again to retry them")]
    lines += _table(rows)
    lines += [f"failed: {r.workflow} {_when(r.time)}: {r.note}" for r in outcome.runs if r.state == FAILED]
    return lines
