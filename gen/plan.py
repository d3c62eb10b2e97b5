"""Grouping, schedules, select lists and cross-workflow requires -> a Plan of Workflow records. Pure."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from pathlib import PurePosixPath
from typing import Any

from gen import __version__
from gen.config import Config
from gen.errors import ConfigError, PlanError, ScheduleError
from gen.escape import uncarriable
from gen.fanin import bound_fan_in
from gen.graph import build_graph, check_workflow_cycles
from gen.ir import Plan, RequireTask, Workflow
from gen.manifest import Manifest, buildable
from gen.naming import job_slug, workflow_name
from gen.requires import Required, Timing, Unaligned, describe, is_clamped, required_sessions, timing_of
from gen.settings import NodeSettings, settings_resolver


def plan_workflows(manifest: Manifest, config: Config) -> Plan:
    """Decide which workflows exist, what each builds, when it runs and which sessions it requires."""
    root = manifest.project_name
    packages = {root, *config.include_packages}
    bad_var = next((t for t in _texts(config.vars) if uncarriable(t) is not None), None)
    if bad_var is not None:
        raise ConfigError(f"dbt.vars holds {bad_var!r}, whose U+{ord(uncarriable(bad_var) or ' '):04X} cannot be "
                          "passed to dbt through helm", source=config.source)
    candidates = [n for n in manifest.nodes.values() if n.package in packages and buildable(n)]
    settings: dict[str, NodeSettings] = {}
    excluded: list[str] = []
    used_rules: set[int] = set()
    resolve = settings_resolver(config, root_project=root, used_rules=used_rules)
    for node in sorted(candidates, key=lambda n: n.unique_id):
        resolved = resolve(node)
        if resolved.enabled:
            settings[node.unique_id] = resolved
        else:
            excluded.append(node.unique_id)
    groups: dict[str, list[str]] = defaultdict(list)
    wanted_names: dict[str, str] = {}
    for uid, node_settings in settings.items():
        name = workflow_name(node_settings.workflow)
        previous = wanted_names.setdefault(name, node_settings.workflow)
        if previous != node_settings.workflow:
            raise PlanError(f"workflow names {previous!r} and {node_settings.workflow!r} both become "
                            f"{name!r}; rename one in meta.digdag.workflow", source=manifest.path)
        groups[name].append(uid)
    node_graph = build_graph(manifest, settings)
    owner = {uid: name for name, uids in groups.items() for uid in uids}
    edges: dict[str, set[str]] = defaultdict(set)
    for uid, parents in node_graph.parents.items():
        for parent in parents:
            if owner[parent] != owner[uid]:
                edges[owner[uid]].add(owner[parent])
    check_workflow_cycles(edges, groups, source=manifest.path)
    warnings = list(manifest.warnings) + list(node_graph.warnings)
    warnings += [f"{config.source or 'gen.yml'}: rules[{rule.index}] matches no node "
                 f"(match: {', '.join(f'{k}: {list(v)}' for k, v in rule.match.items())})"
                 for rule in config.rules if rule.index not in used_rules]
    selectors = _selectors(manifest, settings)
    shared = {name: _shared_settings(name, groups[name], manifest, settings) for name in groups}
    timings = {name: timing_of(shared[name].schedule, shared[name].timezone, shared[name].window) for name in groups}
    k8s_defaults = asdict(config.kubernetes)
    k8s_defaults.pop("values")
    workflows = []
    for name in sorted(groups):
        requires = []
        upstreams = tuple(sorted(edges.get(name, ())))
        origin = _timing_origin(shared[name], config)
        for upstream in upstreams:
            task = _require_task(name, upstream, timings, config, warnings, origin)
            if task is not None:
                requires.append(task)
        members = groups[name]
        uids = sorted(members, key=selectors.__getitem__) if len(members) > 1 else members
        first = settings[uids[0]]
        k8s = dict(k8s_defaults)
        k8s.update(first.k8s)
        workflows.append(Workflow(
            name=name, slug=job_slug(name), node_ids=tuple(uids),
            labels=tuple(manifest.nodes[u].label for u in uids),
            selects=tuple(selectors[u] for u in uids), schedule=first.schedule, timezone=first.timezone,
            window=first.window, requires=tuple(requires), upstreams=upstreams, k8s=k8s, blocks=dict(first.blocks),
            folder=tuple(PurePosixPath(manifest.nodes[uids[0]].file).parent.parts)))
    return Plan(
        project=config.project or root, dbt_project=root,
        generator_version=__version__, runner=config.runner, session_time_mode=config.session_time_mode,
        indirect_selection=config.indirect_selection, vars=dict(config.vars),
        chart_values=dict(config.kubernetes.values), k8s_defaults=k8s_defaults,
        max_project_bytes=config.max_project_bytes,
        workflows=bound_fan_in(tuple(workflows), timings, limit=config.max_attempt_tasks),
        excluded=tuple(excluded),
        warnings=tuple(warnings))


def _timing_origin(settings: NodeSettings, config: Config) -> str:
    """Where a reader's window or schedule was set, for the warnings about its require>s: the file to edit."""
    for key in ("window", "schedule"):
        where = settings.origin(key)
        if where != "defaults":
            return where
    return config.source or "gen.yml (defaults)"


def _texts(value: Any) -> list[str]:
    """Every string inside a JSON-like value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*_texts(k), *_texts(v))]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def _selectors(manifest: Manifest, settings: dict[str, NodeSettings]) -> dict[str, str]:
    """`--select` text per node: its name (name.vN for a version) when that names only this node, else its
    full fqn. dbt reads a bare word as a node name in any package or resource type (tests included) and
    as a package name, so a name shared with any of those would select more than the node."""
    taken: dict[str, int] = defaultdict(int)
    for node in manifest.nodes.values():
        if node.resource_type != "source":
            taken[node.label] += 1
            if node.version is not None:
                taken[node.name] += 1
    packages = {node.package for node in manifest.nodes.values()}
    out = {}
    for uid in settings:
        node = manifest.nodes[uid]
        ambiguous = taken[node.label] > 1 or node.label in packages or node.name in packages
        out[uid] = "fqn:" + ".".join(node.fqn) if ambiguous and node.fqn else node.label
        bad = uncarriable(out[uid])
        if bad is not None:
            raise PlanError(f"{node.resource_type} name {node.label!r} contains U+{ord(bad):04X}, which cannot be "
                            "passed to dbt through helm; rename it", source=node.origin)
    return out


_SHARED = ("schedule", "timezone", "window", "k8s", "blocks")


def _shared_settings(name: str, uids: list[str], manifest: Manifest,
                     settings: dict[str, NodeSettings]) -> NodeSettings:
    """The settings of a workflow's nodes, which must agree; a disagreement names both nodes."""
    uids = sorted(uids)
    first = settings[uids[0]]
    for uid in uids[1:]:
        other = settings[uid]
        for key in _SHARED:
            if getattr(other, key) != getattr(first, key):
                a, b = manifest.nodes[uids[0]], manifest.nodes[uid]
                raise ScheduleError(
                    f"workflow {name!r}: {a.label} ({first.origin(key)}) and {b.label} ({other.origin(key)}) "
                    f"set different {key}: {_show(getattr(first, key))} vs {_show(getattr(other, key))}",
                    source=b.origin)
    return first


def _show(value: Any) -> str:
    if value is None:
        return "no schedule"
    describe_ = getattr(value, "describe", None)
    return describe_() if describe_ else repr(value)


_Parts = tuple[Required, str, bool]


def _require_task(reader: str, upstream: str, timings: dict[str, Timing], config: Config,
                  warnings: list[str], source: str) -> RequireTask | None:
    r, u = timings[reader], timings[upstream]
    found = _require_parts(r, u)
    if found is None:
        message = (f"workflow {reader!r} ({describe(r)}) reads {upstream!r} ({describe(u)}) but their "
                   "schedules share no regular grid, so no upstream session can be derived")
        if config.unaligned == "error":
            raise ScheduleError(message + " (requires.unaligned: error)", source=source) from None
        warnings.append(f"{source}: {message}; no require> added (requires.unaligned: skip)")
        return None
    required, why, clamped = found
    if clamped:
        part = "all" if required.most == 0 else "part"
        warnings.append(
            f"{source}: workflow {reader!r} ({describe(r)}, window {r.window}) reads {upstream!r} "
            f"({describe(u)}): {part} of its window lies after its run time, so those upstream sessions are "
            "not required (they have not started yet); consider window: previous")
    if required.most == 0:
        return None  # no session of the upstream has come by the reader's run time: nothing to require
    return RequireTask(task=upstream, upstream=upstream, required=required, why=why)


def _require_parts(r: Timing, u: Timing) -> _Parts | None:
    """What a require> from a reader timed r to an upstream timed u says, the same for every such pair:
    (required sessions, why, clamped), or None when the two share no grid."""
    try:
        required = required_sessions(r, u)
    except Unaligned:
        return None
    if u.grid is None:
        why = "unscheduled upstream: run for this session time"
    elif r.grid is None:
        why = f"latest {describe(u)} at or before this session"
    else:
        why = f"{describe(u)}, window {u.window}, overlapping this session's window ({r.window})"
    return required, why, is_clamped(r, u)
