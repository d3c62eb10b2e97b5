"""Counts and wording of a run's summary; "would" when nothing was written."""

from __future__ import annotations

from gen.ir import Plan
from gen.output import Changes
from gen.words import plural


def summary(plan: Plan, changes: Changes, *, out: str, dry: bool, projects: int = 1) -> list[str]:
    """Lines describing what a run did (or would do) to out/."""
    verb = "would " if dry else ""
    wf = {w.file for w in plan.workflows}
    # out/NAME.dig, or out/PROJECT/NAME.dig when the output is split into several Digdag projects
    touched = [f for f in changes.created + changes.updated if f.rpartition("/")[2] in wf and f.count("/") <= 1]
    lines = [
        f"{plural(len(plan.workflows), 'workflow')} for dbt project {plan.dbt_project} "
        f"({plural(sum(len(w.node_ids) for w in plan.workflows), 'node')}); "
        f"{plural(plan.unscheduled, 'workflow')} without a schedule (run by hand or by require>)",
    ]
    if changes.recovered:
        lines.append(f"{out}: finished the update an earlier run left unfinished "
                     f"({plural(changes.recovered, 'file')} moved into place)")
    if changes.changed:
        lines.append(
            f"{out}: {verb}create {len(changes.created)}, {verb}update {len(changes.updated)}, "
            f"{verb}delete {len(changes.deleted)} file(s); {len(changes.unchanged)} unchanged "
            f"({plural(len(touched), 'workflow')} touched)")
    else:
        lines.append(f"{out}: up to date ({plural(len(changes.unchanged), 'file')})")
    if projects > 1:
        lines.append(f"split into {projects} Digdag projects (out/<project>/), each under max_project_bytes "
                     f"({plan.max_project_bytes:,} bytes, Digdag's archive limit)")
    if plan.excluded:
        lines.append(f"{plural(len(plan.excluded), 'node')} left out by meta.digdag.enabled: false")
    return lines


def foreign_note(changes: Changes, *, out: str) -> list[str]:
    """Warn about files gen did not write: `digdag push` uploads them too."""
    if not changes.foreign:
        return []
    shown = ", ".join(changes.foreign[:5]) + (" ..." if len(changes.foreign) > 5 else "")
    return [f"warning: {out} holds {plural(len(changes.foreign), 'file')} gen did not write and will not touch "
            f"(digdag push uploads them too): {shown}"]
