"""Coverage: every enabled model, seed and snapshot is built by exactly one workflow. Pure.

What a workflow builds is read from its select list the way dbt reads it (gen.selection), not from
the plan's own bookkeeping, so a selector that picks more than its node (a model named like its
folder or package) or nothing at all is caught. Expected are the root project's (and include_packages')
enabled models, seeds and snapshots, except ephemeral models (dbt builds nothing for them) and nodes
left out on purpose with meta.digdag.enabled: false.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gen.ir import Plan
from gen.manifest import Manifest, buildable
from gen.selection import Selector

GAP_KINDS = ("missed", "twice", "unexpected", "misplaced", "empty")


@dataclass(frozen=True, slots=True)
class Gap:
    """One coverage problem: a node built by no workflow, by several, by one that should not, or a select
    list entry that builds nothing."""

    kind: str
    node: str
    label: str
    workflows: tuple[str, ...]

    def describe(self) -> str:
        """One line naming the node (or selector) and the workflows involved."""
        names = ", ".join(self.workflows)
        if self.kind == "missed":
            return f"{self.label} ({self.node}) is built by no workflow"
        if self.kind == "twice":
            return f"{self.label} ({self.node}) is built by {len(self.workflows)} workflows: {names}"
        if self.kind == "unexpected":
            return (f"{self.label} ({self.node}) is built by {names} although it is left out "
                    "(meta.digdag.enabled: false, or a package gen does not schedule)")
        if self.kind == "misplaced":
            planned, built = self.workflows
            return f"{self.label} ({self.node}) is planned in {planned} but built by {built}"
        return f"select {self.label!r} of workflow {names} builds no model, seed or snapshot"


@dataclass(frozen=True, slots=True)
class Coverage:
    """What each workflow's select list builds, what should be built, and the gaps between them."""

    expected: tuple[str, ...]
    built_by: Mapping[str, tuple[str, ...]]
    excluded: tuple[str, ...]
    gaps: tuple[Gap, ...]

    @property
    def ok(self) -> bool:
        """True when every expected node is built exactly once and nothing else is."""
        return not self.gaps


def expected_nodes(manifest: Manifest, plan: Plan, *,
                   include_packages: Iterable[str] = ()) -> tuple[str, ...]:
    """Unique ids that must be built by exactly one workflow."""
    packages = {manifest.project_name, *include_packages}
    left_out = set(plan.excluded)
    return tuple(sorted(uid for uid, node in manifest.nodes.items()
                        if buildable(node) and node.package in packages and uid not in left_out))


def workflow_selection(manifest: Manifest, selects: Iterable[str], *,
                       selector: Selector | None = None) -> dict[str, frozenset[str]]:
    """For each select argument, the buildable nodes dbt would build for it."""
    selector = selector or Selector(manifest)
    return {s: frozenset(uid for uid in selector.select(s) if buildable(manifest.nodes[uid])) for s in selects}


def check_coverage(manifest: Manifest, plan: Plan, *, include_packages: Iterable[str] = ()) -> Coverage:
    """Compare what every workflow's select list builds with what should be built."""
    expected = expected_nodes(manifest, plan, include_packages=include_packages)
    built: dict[str, set[str]] = defaultdict(set)
    gaps: list[Gap] = []
    selector = Selector(manifest)
    for workflow in plan.workflows:
        for select, uids in sorted(workflow_selection(manifest, workflow.selects, selector=selector).items()):
            if not uids:
                gaps.append(Gap(kind="empty", node="", label=select, workflows=(workflow.name,)))
            for uid in uids:
                built[uid].add(workflow.name)
    planned = {uid: w.name for w in plan.workflows for uid in w.node_ids}
    wanted = set(expected)
    for uid in sorted(wanted | set(built)):
        label = manifest.nodes[uid].label
        owners = tuple(sorted(built.get(uid, ())))
        if uid in wanted and not owners:
            gaps.append(Gap(kind="missed", node=uid, label=label, workflows=()))
        elif len(owners) > 1:
            gaps.append(Gap(kind="twice", node=uid, label=label, workflows=owners))
        elif uid not in wanted:
            gaps.append(Gap(kind="unexpected", node=uid, label=label, workflows=owners))
        elif planned.get(uid) != owners[0]:
            gaps.append(Gap(kind="misplaced", node=uid, label=label,
                            workflows=(planned.get(uid) or "no workflow", owners[0])))
    order = {kind: index for index, kind in enumerate(GAP_KINDS)}
    return Coverage(expected=expected, built_by={uid: tuple(sorted(ws)) for uid, ws in sorted(built.items())},
                    excluded=tuple(plan.excluded),
                    gaps=tuple(sorted(gaps, key=lambda g: (order[g.kind], g.node, g.label))))


def coverage_lines(coverage: Coverage) -> list[str]:
    """The report: one `coverage:` line per gap, or one line saying all is covered."""
    if coverage.ok:
        left_out = len(coverage.excluded)
        extra = f"; {left_out} left out by meta.digdag.enabled: false" if left_out else ""
        return [f"coverage: all {len(coverage.expected)} models, seeds and snapshots are built by exactly "
                f"one workflow{extra}"]
    return [f"coverage: {gap.kind}: {gap.describe()}" for gap in coverage.gaps]
