"""What Digdag teams put on every workflow, set in gen.yml (defaults and rules) or meta.digdag, validated:

- `retry`: the dbt task's `_retry` (a count, or {limit, interval, interval_type});
- `error`: the workflow's `_error` task (Slack through http>, mail>, a script: any Digdag task);
- `sla`: the workflow's `sla` ({time: HH:MM[:SS]} or {duration: HH:MM:SS}, with fail/alert and tasks);
- `export`: parameters added to the workflow's `_export` (names starting gen_ are gen's own).

These blocks are written by the team, not taken from dbt data, so `${...}` in them is theirs to use.
"""

from __future__ import annotations

import re
from typing import Any

from gen.errors import MetaError

BLOCK_KEYS = ("retry", "error", "sla", "export")
_PARAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CLOCK = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")
_DURATION = re.compile(r"^\d{1,2}:\d{2}:\d{2}$")


def check_block(key: str, value: Any, *, where: str) -> Any:
    """The block as Digdag will read it, or a MetaError naming where it was written and what is wrong."""
    if key == "retry":
        return _retry(value, where)
    if not isinstance(value, dict) or not value or not all(isinstance(k, str) for k in value):
        raise MetaError(f"{key} must be a mapping, got {value!r}", source=where)
    if key == "error":
        if not any(k.endswith(">") or k.startswith("+") for k in value):
            raise MetaError(f"error must be a Digdag task (an operator such as mail>: or http>:, or +tasks), "
                            f"got {value!r}", source=where)
        return value
    if key == "sla":
        return _sla(value, where)
    bad = next((k for k in value if not _PARAM.match(k) or k.startswith("gen_")), None)
    if bad is not None:
        raise MetaError(f"export: {bad!r} is not a parameter name of yours ([A-Za-z_][A-Za-z0-9_]*, not gen_...)",
                        source=where)
    return value


def _retry(value: Any, where: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | dict):
        raise MetaError(f"retry must be a count or {{limit, interval, interval_type}}, got {value!r}", source=where)
    if isinstance(value, int):
        if not 0 <= value <= 100:
            raise MetaError(f"retry must be between 0 and 100, got {value}", source=where)
        return value
    unknown = set(value) - {"limit", "interval", "interval_type"}
    limit, interval = value.get("limit"), value.get("interval", 0)
    if unknown or isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= 100:
        raise MetaError(f"retry must be {{limit: 0-100, interval: seconds, interval_type: constant|exponential}}, "
                        f"got {value!r}", source=where)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 0:
        raise MetaError(f"retry.interval must be a number of seconds, got {interval!r}", source=where)
    if value.get("interval_type", "constant") not in ("constant", "exponential"):
        raise MetaError(f"retry.interval_type must be constant or exponential, got {value['interval_type']!r}",
                        source=where)
    return value


def _sla(value: dict[str, Any], where: str) -> Any:
    kinds = [k for k in ("time", "duration") if k in value]
    if len(kinds) != 1:
        raise MetaError(f"sla needs exactly one of time: HH:MM[:SS] or duration: HH:MM:SS, got {value!r}",
                        source=where)
    pattern = _CLOCK if kinds[0] == "time" else _DURATION
    if not isinstance(value[kinds[0]], str) or not pattern.match(value[kinds[0]]):
        raise MetaError(f"sla.{kinds[0]} must be a quoted {'HH:MM[:SS]' if kinds[0] == 'time' else 'HH:MM:SS'}, "
                        f"got {value[kinds[0]]!r}", source=where)
    unknown = [k for k in value if k not in ("time", "duration", "fail", "alert") and not k.startswith("+")]
    if unknown:
        raise MetaError(f"sla: unknown key {unknown[0]!r} (allowed: time, duration, fail, alert, +tasks)", source=where)
    return value
