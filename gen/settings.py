"""Per-node settings: config defaults, then matching gen.yml rules in order, then the node's meta.digdag."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from typing import Any

import msgspec

from gen.blocks import BLOCK_KEYS, check_block
from gen.config import K8S_KEYS, SETTING_KEYS, WINDOWS, Config, Rule, check_k8s_setting
from gen.errors import GenError, MetaError
from gen.manifest import Node
from gen.schedule import Schedule, parse_schedule, validate_timezone


class NodeSettings(msgspec.Struct, frozen=True, gc=False):
    """What one node asks of the workflow that builds it, with where each value came from (a frozen
    msgspec Struct: one is made per node of the manifest)."""

    workflow: str
    enabled: bool
    schedule: Schedule | None
    timezone: str
    window: str
    k8s: tuple[tuple[str, Any], ...]
    lint_ignore: tuple[str, ...]
    origins: tuple[tuple[str, str], ...]
    blocks: tuple[tuple[str, Any], ...] = ()  # retry, error, sla, export (gen.blocks)

    def origin(self, key: str) -> str:
        """Where `key` was set, for error messages."""
        return dict(self.origins).get(key, "defaults")


def default_workflow(node: Node, root_project: str) -> str:
    """The workflow a node gets when nothing groups it: its own name (versions and packages made distinct)."""
    base = f"{node.name}_v{node.version}" if node.version is not None else node.name
    return base if node.package == root_project else f"{node.package}__{base}"


def rule_matches(rule: Rule, node: Node) -> bool:
    """True when every criterion of the rule holds for the node."""
    return rule_matcher(rule)(node)


def rule_matcher(rule: Rule) -> Callable[[Node], bool]:
    """A function telling whether a node meets every criterion of the rule; the criteria are prepared
    once, for matching many nodes."""
    checks = [_criterion(key, wanted) for key, wanted in rule.match.items()]
    if len(checks) == 1:
        return checks[0]
    return lambda node: all(check(node) for check in checks)


def _criterion(key: str, wanted: tuple[str, ...]) -> Callable[[Node], bool]:
    if key == "tag":
        tags = frozenset(wanted)
        return lambda node: not tags.isdisjoint(node.tags)
    if key == "path":
        return lambda node: any(fnmatchcase(node.file, pattern) for pattern in wanted)
    if key == "folder":
        prefixes = tuple(f.rstrip("/") + "/" for f in wanted)
        return lambda node: node.file.startswith(prefixes)
    if key == "name":
        return lambda node: any(fnmatchcase(node.name, pattern) for pattern in wanted)
    if key == "resource_type":
        return lambda node: node.resource_type in wanted
    if key == "package":
        return lambda node: node.package in wanted
    return lambda node: True  # (config validation admits no other key)


def resolve_settings(node: Node, config: Config, *, root_project: str,
                     matched: Sequence[Rule] | None = None) -> NodeSettings:
    """Merge defaults, rules and meta.digdag for one node, validating each value where it was written.
    `matched`: the rules that match the node, in order, when the caller has already found them."""
    raw: dict[str, tuple[Any, str]] = {}
    for rule in matched if matched is not None else [r for r in config.rules if rule_matches(r, node)]:
        for key, value in rule.settings.items():
            raw[key] = (value, f"{config.source or 'gen.yml'}: rules[{rule.index}]")
    meta_where = f"{node.origin}: {node.resource_type} {node.label}: meta.digdag"
    if "__invalid__" in node.digdag:
        raise MetaError(f"meta.digdag must be a mapping, got {node.digdag['__invalid__']!r}",
                        source=f"{node.origin}: {node.resource_type} {node.label}")
    unknown = sorted(str(k) for k in node.digdag if k not in SETTING_KEYS)
    if unknown:
        raise MetaError(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(SETTING_KEYS))})",
                        source=meta_where)
    for key, value in node.digdag.items():
        raw[key] = (value, meta_where)

    def pick(key: str, default: Any) -> tuple[Any, str]:
        return raw.get(key, (default, "defaults"))

    workflow, w_where = pick("workflow", None)
    if workflow is None:
        workflow = default_workflow(node, root_project)
    elif not isinstance(workflow, str) or not workflow.strip():
        raise MetaError(f"workflow must be a non-empty name, got {workflow!r}", source=w_where)
    enabled, e_where = pick("enabled", True)
    if not isinstance(enabled, bool):
        raise MetaError(f"enabled must be true or false, got {enabled!r}", source=e_where)
    schedule_value, s_where = raw.get("schedule", (None, "defaults"))
    schedule = (parse_schedule(schedule_value, where=s_where) if "schedule" in raw else config.schedule)
    tz_value, tz_where = pick("timezone", config.timezone)
    timezone = validate_timezone(tz_value, where=f"{tz_where}: timezone")
    window, win_where = pick("window", config.window)
    if window not in WINDOWS:
        raise MetaError(f"window must be one of {', '.join(WINDOWS)}, got {window!r}", source=win_where)
    k8s = []
    for key in K8S_KEYS:
        if key in raw:
            value, where = raw[key]
            try:
                k8s.append((key, check_k8s_setting(key, value, where=where)))
            except GenError as e:
                raise MetaError(str(e).split(": ", 1)[-1] if e.source else str(e), source=where) from e
    lint, l_where = pick("lint", {})
    lint_ignore = _lint_ignore(lint, l_where)
    blocks = dict(config.blocks)
    for key in BLOCK_KEYS:
        if key in raw:
            value, where = raw[key]
            blocks[key] = check_block(key, value, where=where)
    return NodeSettings(
        workflow=workflow.strip(), enabled=enabled, schedule=schedule, timezone=timezone, window=window,
        k8s=tuple(k8s), lint_ignore=lint_ignore, blocks=tuple(sorted(blocks.items())),
        origins=tuple(sorted((k, where) for k, (_, where) in raw.items())))


def settings_resolver(config: Config, *, root_project: str,
                      used_rules: set[int] | None = None) -> Callable[[Node], NodeSettings]:
    """resolve_settings for many nodes, with the rules' criteria prepared once. `used_rules` collects the
    index of every rule that matched a node."""
    matchers = [(rule, rule_matcher(rule)) for rule in config.rules]
    used = used_rules if used_rules is not None else set()

    def resolve(node: Node) -> NodeSettings:
        matched = [rule for rule, matches in matchers if matches(node)]
        used.update(rule.index for rule in matched)
        return resolve_settings(node, config, root_project=root_project, matched=matched)

    return resolve


def _lint_ignore(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, dict) or set(value) - {"ignore"}:
        raise MetaError(f"lint must be a mapping like {{ignore: [rule-id]}}, got {value!r}", source=where)
    ignore = value.get("ignore", [])
    if isinstance(ignore, str):
        ignore = [ignore]
    if not isinstance(ignore, list) or not all(isinstance(i, str) for i in ignore):
        raise MetaError(f"lint.ignore must be a list of rule ids, got {ignore!r}", source=where)
    return tuple(sorted(ignore))
