"""dbt's node selection for the selectors gen writes, so coverage can be checked without running dbt. Pure.

gen's select lists hold `name`, `name.vN` and `package:P,name`. Like `dbt build --select`, a bare
value uses dbt's fqn method, which also matches folder and package prefixes: a model named like its
folder (`marts`) selects the whole folder. That is exactly what the coverage check must notice, so
the rules below follow dbt-core's selector_methods (is_selected_node and the package method); the
tests compare them with `dbt ls` itself.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from gen.errors import PlanError
from gen.manifest import Manifest, Node

_WILDCARDS = ("*", "?", "[", "]")


def select_nodes(manifest: Manifest, selector: str) -> frozenset[str]:
    """Unique ids of the enabled, non-source nodes one `--select` argument picks (no graph operators)."""
    found: frozenset[str] | None = None
    for criterion in selector.split(","):
        matched = frozenset(uid for uid, node in manifest.nodes.items()
                            if node.resource_type != "source" and node.enabled
                            and _matches(criterion, node, manifest.project_name, selector))
        found = matched if found is None else found & matched
    return found or frozenset()


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
