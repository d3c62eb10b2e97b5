"""The dbt node graph: table-to-table dependencies with ephemeral models contracted, workflow-level
edges and cycle detection.

Plain dict walks do the work, because a manifest has tens of thousands of nodes; networkx is imported
only to name the cycle when there is one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from gen.errors import CycleError
from gen.ir import Workflow
from gen.manifest import Manifest, Node


@dataclass(frozen=True, slots=True)
class NodeGraph:
    """For each scheduled node, the scheduled nodes it reads (through ephemeral models); plus warnings."""

    parents: Mapping[str, tuple[str, ...]]
    warnings: tuple[str, ...]


def build_graph(manifest: Manifest, scheduled: Iterable[str]) -> NodeGraph:
    """Contract everything that is not a scheduled table: ephemeral models pass their parents through;
    sources, disabled nodes and nodes of packages gen does not schedule end the walk."""
    wanted = set(scheduled)
    nodes = manifest.nodes
    # Only scheduled tables and the ephemeral models between them carry dependencies between workflows;
    # everything else (tests, sources, unscheduled nodes) ends a walk, so only these are ordered.
    relevant = {uid for uid, node in nodes.items() if uid in wanted or _passes_through(node)}
    preds: dict[str, list[str]] = {}
    dangling: set[str] = set()
    for uid, node in nodes.items():
        inside = []
        for dep in node.depends_on:
            if dep in relevant:
                inside.append(dep)
            elif dep not in nodes:
                dangling.add(f"{uid} -> {dep}")
        if uid in relevant:
            preds[uid] = inside
    order = _topological(preds)
    if order is None:
        path = _cycle_path(preds, ((dep, uid) for uid, deps in preds.items() for dep in deps))
        raise CycleError(f"the dbt graph has a cycle: {path}", source=manifest.path)

    memo: dict[str, frozenset[str]] = {}

    def through(uid: str) -> frozenset[str]:
        """Scheduled tables reached by reading `uid` (an ephemeral model stands for its parents)."""
        if uid in wanted:
            return frozenset((uid,))
        if uid not in memo:
            found: set[str] = set()
            for dep in preds[uid]:
                found |= through(dep)
            memo[uid] = frozenset(found)
        return memo[uid]

    # Walk in topological order so the memo is filled bottom-up (no deep recursion on long ephemeral chains).
    for uid in order:
        if uid not in wanted:
            through(uid)
    parents = {}
    for uid in sorted(wanted):
        found: set[str] = set()
        for dep in preds[uid]:
            found |= through(dep)
        found.discard(uid)
        parents[uid] = tuple(sorted(found))
    warnings = tuple(f"{manifest.path}: depends_on names a node that is not in the manifest: {d}"
                     for d in sorted(dangling))
    return NodeGraph(parents=parents, warnings=warnings)


def _passes_through(node: Node) -> bool:
    """An ephemeral model: it is inlined into its readers, so they read its parents."""
    return node.resource_type == "model" and node.materialized == "ephemeral" and node.enabled


def check_workflow_cycles(edges: Mapping[str, set[str]], names: Iterable[str], *, source: str) -> None:
    """A CycleError naming the cycle when workflows read from each other in a circle (through grouping)."""
    names = list(names)
    preds: dict[str, list[str]] = {name: [] for name in names}
    pairs = [(upstream, reader) for reader, upstreams in edges.items() for upstream in upstreams]
    for upstream, reader in pairs:  # (a set of upstreams per reader: no pair twice)
        preds.setdefault(upstream, [])
        preds.setdefault(reader, []).append(upstream)
    if _topological(preds) is None:
        path = _cycle_path(names, pairs)
        raise CycleError(f"grouping makes workflows depend on each other in a cycle: {path}; "
                         "change meta.digdag.workflow so that no workflow reads from one that reads from it",
                         source=source)


def _topological(preds: Mapping[str, list[str]]) -> list[str] | None:
    """Kahn's algorithm over {node: its parents}; None when there is a cycle."""
    children: dict[str, list[str]] = {uid: [] for uid in preds}
    waiting: dict[str, int] = {}
    for uid, parents in preds.items():
        waiting[uid] = len(parents)
        for parent in parents:
            children[parent].append(uid)
    ready = [uid for uid, count in waiting.items() if count == 0]
    order: list[str] = []
    while ready:
        uid = ready.pop()
        order.append(uid)
        for child in children[uid]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    return order if len(order) == len(preds) else None


def _cycle_path(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> str:
    """`a -> b -> a`: the cycle networkx finds first in the graph built in this order."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    cycle = nx.find_cycle(graph)
    return " -> ".join([edge[0] for edge in cycle] + [cycle[-1][1]])


def readers_of(workflows: Iterable[Workflow]) -> dict[str, set[str]]:
    """For each of these workflows, the ones among them that read it."""
    listed = list(workflows)
    readers: dict[str, set[str]] = {w.name: set() for w in listed}
    for w in listed:
        for upstream in w.upstreams:
            if upstream in readers:
                readers[upstream].add(w.name)
    return readers


def reachable(start: Iterable[str], step: Callable[[str], Iterable[str]], depth: int | None = None) -> set[str]:
    """What `step` leads to from `start` in at most `depth` steps (all, when None), `start` left out."""
    origin = set(start)
    seen: set[str] = set()
    frontier = set(origin)
    level = 0
    while frontier and (depth is None or level < depth):
        frontier = {nxt for name in frontier for nxt in step(name)} - seen - origin
        seen |= frontier
        level += 1
    return seen
