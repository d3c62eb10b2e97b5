"""gen.yml (next to dbt_project.yml, or --config) -> a frozen, validated Config; unknown keys are errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gen.blocks import BLOCK_KEYS, check_block
from gen.errors import ConfigError, GenError, yaml_problem
from gen.schedule import Schedule, parse_schedule, validate_timezone

WINDOWS = ("current", "previous")
RUNNERS = ("k8s", "local")
SESSION_TIME_MODES = ("vars", "env")
INDIRECT_SELECTION = ("buildable", "cautious", "eager", "empty")
UNALIGNED_POLICIES = ("skip", "error")
MATCH_KEYS = ("tag", "path", "folder", "name", "resource_type", "package")
# Keys a rule or a node's meta.digdag may set; k8s ones override the kubernetes: defaults per workflow.
SETTING_KEYS = ("workflow", "enabled", "schedule", "timezone", "window", "namespace", "context", "chart",
                "chart_version", "image_tag", "timeout_seconds", "lint", *BLOCK_KEYS)
K8S_KEYS = ("namespace", "context", "chart", "chart_version", "image_tag", "timeout_seconds")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_SAFE_TEXT = re.compile(r"^[A-Za-z0-9._:/@+=-]*$")


@dataclass(frozen=True, slots=True)
class Kubernetes:
    """Where and how the dbt Job runs; every field can be overridden per workflow in meta.digdag."""

    namespace: str = "default"
    context: str = ""
    chart: str = "charts/dbt-job"
    chart_version: str = ""
    image_tag: str = ""
    timeout_seconds: int = 3600
    values: Mapping[str, Any] = field(default_factory=dict)


# Digdag's api.max_archive_total_size_limit default: a pushed project's files may add up to this.
DIGDAG_ARCHIVE_LIMIT = 2 * 1024 * 1024
# Digdag's executor.task_max_run default: an attempt may create at most this many tasks.
DIGDAG_TASK_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Rule:
    """Settings applied to every node that matches all of `match` (later rules win, meta wins over all)."""

    match: Mapping[str, tuple[str, ...]]
    settings: Mapping[str, Any]
    index: int


@dataclass(frozen=True, slots=True)
class Config:
    """Everything gen needs besides the manifest; frozen once validated."""

    source: str | None = None
    project: str | None = None
    timezone: str = "UTC"
    schedule: Schedule | None = None
    window: str = "current"
    runner: str = "k8s"
    include_packages: tuple[str, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=dict)
    session_time_mode: str = "env"
    indirect_selection: str = "buildable"
    unaligned: str = "skip"
    kubernetes: Kubernetes = field(default_factory=Kubernetes)
    rules: tuple[Rule, ...] = ()
    templates: str | None = None
    max_project_bytes: int = DIGDAG_ARCHIVE_LIMIT
    max_attempt_tasks: int = DIGDAG_TASK_LIMIT
    blocks: Mapping[str, Any] = field(default_factory=dict)  # retry, error, sla, export for every workflow


_TOP_KEYS = {"project", "timezone", "schedule", "window", "runner", "include_packages", "dbt", "kubernetes",
             "requires", "rules", "templates", "max_project_bytes", "max_attempt_tasks", *BLOCK_KEYS}


def load_config(path: Path | None, *, required: bool) -> Config:
    """Load gen.yml; a missing optional file gives the defaults."""
    if path is None or (not required and not path.exists()):
        return Config()
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError("no such file", source=where) from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot be read: {e}", source=where) from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(yaml_problem(e), source=where) from e
    if data is None:
        return Config(source=where)
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping", source=where)
    return parse_config(data, where=where)


def parse_config(data: Mapping[str, Any], *, where: str) -> Config:
    """Validate a gen.yml mapping into a Config."""
    _reject_unknown(data, _TOP_KEYS, where, "")
    dbt = _mapping(data.get("dbt", {}), where, "dbt")
    _reject_unknown(dbt, {"vars", "session_time_mode", "indirect_selection"}, where, "dbt.")
    requires = _mapping(data.get("requires", {}), where, "requires")
    _reject_unknown(requires, {"unaligned"}, where, "requires.")
    tz = validate_timezone(data.get("timezone", "UTC"), where=f"{where}: timezone")
    project = data.get("project")
    if project is not None and (not isinstance(project, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*",
                                                                                   project)):
        raise ConfigError(f"project must be a Digdag project name ([A-Za-z0-9_.-]), got {project!r}",
                          source=where)
    templates = data.get("templates")
    if templates is not None and not isinstance(templates, str):
        raise ConfigError(f"templates must be a folder path, got {templates!r}", source=where)
    if templates is not None:
        templates = str((Path(where).parent / templates).resolve())
    vars_ = _mapping(dbt.get("vars", {}), where, "dbt.vars")
    max_bytes = data.get("max_project_bytes", DIGDAG_ARCHIVE_LIMIT)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise ConfigError(f"max_project_bytes must be a whole number of bytes (0: never split), got {max_bytes!r}",
                          source=where)
    max_tasks = data.get("max_attempt_tasks", DIGDAG_TASK_LIMIT)
    if isinstance(max_tasks, bool) or not isinstance(max_tasks, int) or max_tasks < 10:
        raise ConfigError(f"max_attempt_tasks must be a whole number of at least 10, got {max_tasks!r}", source=where)
    return Config(
        source=where,
        project=project,
        timezone=tz,
        schedule=parse_schedule(data.get("schedule"), where=f"{where}: schedule"),
        window=_choice(data.get("window", "current"), WINDOWS, where, "window"),
        runner=_choice(data.get("runner", "k8s"), RUNNERS, where, "runner"),
        include_packages=_strings(data.get("include_packages", []), where, "include_packages"),
        vars=vars_,
        session_time_mode=_choice(dbt.get("session_time_mode", "env"), SESSION_TIME_MODES, where,
                                  "dbt.session_time_mode"),
        indirect_selection=_choice(dbt.get("indirect_selection", "buildable"), INDIRECT_SELECTION, where,
                                   "dbt.indirect_selection"),
        unaligned=_choice(requires.get("unaligned", "skip"), UNALIGNED_POLICIES, where, "requires.unaligned"),
        kubernetes=_kubernetes(_mapping(data.get("kubernetes", {}), where, "kubernetes"), where),
        rules=_rules(data.get("rules", []), where),
        templates=templates,
        max_project_bytes=max_bytes,
        max_attempt_tasks=max_tasks,
        blocks={key: check_block(key, data[key], where=where) for key in BLOCK_KEYS if key in data},
    )


def _kubernetes(data: Mapping[str, Any], where: str) -> Kubernetes:
    _reject_unknown(data, set(K8S_KEYS) | {"values"}, where, "kubernetes.")
    checked = {key: check_k8s_setting(key, data[key], where=f"{where}: kubernetes.{key}")
               for key in K8S_KEYS if key in data}
    values = _mapping(data.get("values", {}), where, "kubernetes.values")
    return Kubernetes(**checked, values=values)


def check_k8s_setting(key: str, value: Any, *, where: str) -> Any:
    """Validate one Kubernetes setting; these reach a shell script, so their characters are restricted."""
    if key == "timeout_seconds":
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise GenError(f"timeout_seconds must be a positive whole number, got {value!r}", source=where)
        return value
    if not isinstance(value, str):
        raise GenError(f"{key} must be a string, got {value!r}", source=where)
    if key == "namespace" and not _DNS_LABEL.match(value):
        raise GenError(f"namespace must be a DNS label (lowercase letters, digits, '-'), got {value!r}",
                       source=where)
    if not _SAFE_TEXT.match(value):
        raise GenError(f"{key} may only contain letters, digits and ._:/@+=-, got {value!r}", source=where)
    return value


def _rules(value: Any, where: str) -> tuple[Rule, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"rules must be a list, got {type(value).__name__}", source=where)
    rules = []
    for index, item in enumerate(value):
        at = f"rules[{index}]"
        item = _mapping(item, where, at)
        if "match" not in item:
            raise ConfigError(f"{at} has no `match:`", source=where)
        match = _mapping(item["match"], where, f"{at}.match")
        _reject_unknown(match, set(MATCH_KEYS), where, f"{at}.match.")
        if not match:
            raise ConfigError(f"{at}.match is empty; it would match every node", source=where)
        settings = {k: v for k, v in item.items() if k != "match"}
        _reject_unknown(settings, set(SETTING_KEYS), where, f"{at}.")
        rules.append(Rule(match={k: _strings(v, where, f"{at}.match.{k}") for k, v in match.items()},
                          settings=settings, index=index))
    return tuple(rules)


def _reject_unknown(data: Mapping[str, Any], allowed: set[str], where: str, prefix: str) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise ConfigError(f"unknown key {prefix}{unknown[0]!s} (allowed: {', '.join(sorted(allowed))})",
                          source=where)


def _mapping(value: Any, where: str, key: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a mapping, got {type(value).__name__}", source=where)
    return value


def _choice(value: Any, choices: tuple[str, ...], where: str, key: str) -> str:
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}, got {value!r}", source=where)
    return str(value)


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{key} must be a string or a list of strings, got {value!r}", source=where)
