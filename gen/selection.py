"""dbt's node selection for the selectors gen writes, so coverage can be checked without running dbt. Pure.

gen's select lists hold `name`, `name.vN` and `package:P,name`. Like `dbt build --select`, a bare
value uses dbt's fqn method, which also matches folder and package prefixes: a model named like its
folder (`marts`) selects the whole folder. That is exactly what the coverage check must notice, so
the rules below follow dbt-core's selector_methods (is_selected_node and the package method); the
tests compare them with `dbt ls` itself.
"""

from __future__ import annotations

from collections import defaultdict
from fnmatch import fnmatchcase

from gen.errors import PlanError
from gen.manifest import Manifest, Node

_WILDCARDS = ("*", "?", "[", "]")


def select_nodes(manifest: Manifest, selector: str) -> frozenset[str]:
    """Unique ids of the enabled, non-source nodes one `--select` argument picks (no graph operators)."""
    return Selector(manifest).select(selector)


class Selector:
    """select_nodes for many selectors of one manifest, in time linear in the manifest plus the answers.

    The names, versioned names, fqn prefixes, packages, tags and resource types of the nodes are indexed
    (each kind when a criterion first asks for it); a criterion without wildcards is one lookup that yields
    the candidates, each still checked by the same rules as a scan (so the index only narrows, never
    decides). Wildcards scan every node."""

    def __init__(self, manifest: Manifest) -> None:
        self._manifest = manifest
        self._nodes = [(uid, node) for uid, node in manifest.nodes.items()
                       if node.resource_type != "source" and node.enabled]
        self._indexes: dict[str, _Index] = {}

    def select(self, selector: str) -> frozenset[str]:
        """Like select_nodes(manifest, selector)."""
        found: frozenset[str] | None = None
        for criterion in selector.split(","):
            matched = frozenset(uid for uid, node in self._candidates(criterion)
                                if _matches(criterion, node, self._manifest.project_name, selector))
            found = matched if found is None else found & matched
        return found or frozenset()

    def _candidates(self, criterion: str) -> list[tuple[str, Node]]:
        keys = _lookup_keys(criterion)
        if keys is None:
            return self._nodes
        nodes = self._manifest.nodes
        groups: list[list[str]] = []
        for kind, value in keys:
            single, grouped = self._index(kind)
            groups += [single.get(value, []), *grouped.get(value, ())]
        return [(uid, nodes[uid]) for uid in dict.fromkeys(uid for group in groups for uid in group)]

    def _index(self, kind: str) -> _Index:
        index = self._indexes.get(kind)
        if index is None:
            index = self._indexes[kind] = _build_index(kind, self._nodes, self._manifest.project_name)
        return index


# The nodes under each key of one kind: unique ids, and groups of them (the nodes of a folder under each
# fqn prefix of the folder).
_Index = tuple[dict[str, list[str]], dict[str, list[list[str]]]]


def _build_index(kind: str, nodes: list[tuple[str, Node]], root: str) -> _Index:
    """Every key of `kind` under which a criterion without wildcards can select a node. The fqn prefixes of
    the nodes of one folder are one group, so the index grows with the nodes and folders, not with the
    nodes times their depth."""
    single: dict[str, list[str]] = defaultdict(list)
    grouped: dict[str, list[list[str]]] = {}
    if kind != "fqn":
        for uid, node in nodes:
            for key in _keys(kind, node, root):
                single[key].append(uid)
        return single, grouped
    folders: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for uid, node in nodes:
        for fqn in (node.fqn, node.fqn[1:]):
            if not fqn:
                continue
            if node.version is not None and len(fqn) >= 2:
                single[fqn[-2]].append(uid)
                single["_".join(fqn[-2:])].append(uid)  # a versioned name written with `_`
            else:
                single[fqn[-1]].append(uid)
            flat = ".".join(fqn).split(".")
            single[".".join(flat)].append(uid)
            folders[tuple(flat[:-1])].append(uid)
    for folder, uids in folders.items():
        for n in range(1, len(folder) + 1):
            grouped.setdefault(".".join(folder[:n]), []).append(uids)
    return single, grouped


def _keys(kind: str, node: Node, root: str) -> set[str]:
    """Every key of one kind but fqn under which a criterion can select the node."""
    if kind == "package":
        return {node.package, "this"} if node.package == root else {node.package}
    if kind == "resource_type":
        return {node.resource_type}
    if kind == "tag":
        return set(node.tags)
    raise AssertionError(kind)


def _lookup_keys(criterion: str) -> list[tuple[str, str]] | None:
    """The index keys of a criterion without wildcards, or None (scan every node)."""
    if any(w in criterion for w in _WILDCARDS) or criterion.startswith(("+", "@")) or criterion.endswith("+"):
        return None
    method, sep, value = criterion.partition(":")
    if not sep:
        method, value = _default_method(criterion), criterion
    if method == "fqn":
        return [("fqn", value), ("fqn", "_".join(value.split(".")[-2:]))]
    if method in ("package", "resource_type", "tag"):
        return [(method, value)]
    return None


def _matches(criterion: str, node: Node, root: str, whole: str) -> bool:
    if criterion.startswith(("+", "@")) or criterion.endswith("+"):
        raise PlanError(f"selector {whole!r}: graph operators are not supported by the coverage check")
    method, sep, value = criterion.partition(":")
    if not sep:
        method, value = _default_method(criterion), criterion
    if method == "fqn":
        return _fqn_match(list(node.fqn), value, node.version is not None) or _fqn_match(
            list(node.fqn[1:]), value, node.version is not None)
    if method == "package":
        return fnmatchcase(node.package, root if value == "this" else value)
    if method == "resource_type":
        return node.resource_type == value
    if method == "tag":
        return any(fnmatchcase(tag, value) for tag in node.tags)
    raise PlanError(f"selector {whole!r}: method {method!r} is not supported by the coverage check "
                    "(supported: names, fqn:, package:, tag:, resource_type:)")


def _default_method(value: str) -> str:
    if "/" in value or "\\" in value:
        return "path"
    if value.lower().endswith((".sql", ".py", ".csv")):
        return "file"
    return "fqn"


def _fqn_match(fqn: list[str], selector: str, versioned: bool) -> bool:
    """dbt's is_selected_node: the leaf name, a versioned name (either separator), or a dotted prefix."""
    if not fqn:
        return False
    parts = selector.split(".")
    if versioned and len(fqn) >= 2:
        if fqn[-2] == selector or "_".join(fqn[-2:]) == "_".join(parts[-2:]):
            return True
    elif fqn[-1] == selector:
        return True
    flat = [item for segment in fqn for item in segment.split(".")]
    if len(flat) < len(parts):
        return False
    for index, part in enumerate(parts):
        if any(w in part for w in _WILDCARDS):
            if fnmatchcase(".".join(flat[index:]), ".".join(parts[index:])):
                return True
            if "." not in selector:
                return fnmatchcase(fqn[-2] if versioned else fqn[-1], selector)
            return False
        if flat[index] != part:
            return False
    return True
