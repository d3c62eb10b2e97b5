"""The dbt node graph (networkx): table-to-table dependencies with ephemeral models contracted,
workflow-level edges, cycle detection and a stable topological order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import networkx as nx

from gen.errors import CycleError
from gen.manifest import Manifest


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
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    dangling: set[str] = set()
    for uid, node in nodes.items():
        for dep in node.depends_on:
            if dep in nodes:
                graph.add_edge(dep, uid)
            else:
                dangling.add(f"{uid} -> {dep}")
    if not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        path = " -> ".join([edge[0] for edge in cycle] + [cycle[-1][1]])
        raise CycleError(f"the dbt graph has a cycle: {path}", source=manifest.path)

    memo: dict[str, frozenset[str]] = {}

    def through(uid: str) -> frozenset[str]:
        """Scheduled tables reached by reading `uid` (an ephemeral model stands for its parents)."""
        if uid in wanted:
            return frozenset((uid,))
        node = nodes[uid]
        if node.resource_type != "model" or node.materialized != "ephemeral" or not node.enabled:
            return frozenset()
        if uid not in memo:
            found: set[str] = set()
            for dep in graph.predecessors(uid):
                found |= through(dep)
            memo[uid] = frozenset(found)
        return memo[uid]

    # Walk in topological order so the memo is filled bottom-up (no deep recursion on long ephemeral chains).
    for uid in nx.topological_sort(graph):
        if uid not in wanted:
            through(uid)
    parents = {}
    for uid in sorted(wanted):
        found: set[str] = set()
        for dep in graph.predecessors(uid):
            found |= through(dep)
        found.discard(uid)
        parents[uid] = tuple(sorted(found))
    warnings = tuple(f"{manifest.path}: depends_on names a node that is not in the manifest: {d}"
                     for d in sorted(dangling))
    return NodeGraph(parents=parents, warnings=warnings)


def order_workflows(edges: Mapping[str, set[str]], names: Iterable[str], *, source: str) -> list[str]:
    """Topological order of workflows (upstream first, ties by name); a cycle is a CycleError."""
    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    for reader, upstreams in edges.items():
        for upstream in upstreams:
            graph.add_edge(upstream, reader)
    if not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        path = " -> ".join([edge[0] for edge in cycle] + [cycle[-1][1]])
        raise CycleError(f"grouping makes workflows depend on each other in a cycle: {path}; "
                         "change meta.digdag.workflow so that no workflow reads from one that reads from it",
                         source=source)
    return list(nx.lexicographical_topological_sort(graph))
