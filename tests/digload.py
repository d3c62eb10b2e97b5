"""Read a generated workflow as Digdag does: YAML with `!include : file` keys merged in place, and the dbt
task's `_env` with its `${...}` evaluated for one session (only the forms gen's templates write)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

SESSION = {"session_time": "2024-03-02T00:00:00+09:00", "session_id": "7", "attempt_id": "9"}


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!include", lambda loader, node: "!include")


def _pairs(loader: yaml.SafeLoader, node: yaml.MappingNode) -> list[tuple[Any, Any]]:
    out = []
    for key_node, value_node in node.value:
        key = ("!include",) if key_node.tag == "!include" else loader.construct_object(key_node, deep=True)
        out.append((key, loader.construct_object(value_node, deep=True)))
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, lambda loader, node: _pairs(loader, node))


def load(path: Path) -> Any:
    """The file's YAML with every `!include : file` merged where it stands, as Digdag's loader does."""
    return _resolve(yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader), path.parent)


def _resolve(value: Any, folder: Path) -> Any:
    if isinstance(value, list) and all(isinstance(item, tuple) and len(item) == 2 for item in value):
        built: dict[Any, Any] = {}
        for key, item in value:
            if key == ("!include",):
                built.update(load(folder / item))
            else:
                built[key] = _resolve(item, folder)
        return built
    if isinstance(value, list):
        return [_resolve(item, folder) for item in value]
    return value


def dbt_env(project: Path, name: str, *, params: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment run-dbt.sh gets from workflow `name` for SESSION (and -p params)."""
    doc = load(project / f"{name}.dig")
    scope: dict[str, Any] = {**(params or {}), **doc.get("_export", {}), **SESSION}
    return {key: evaluate(str(value), scope) for key, value in doc["+dbt_build"]["_env"].items()}


def evaluate(text: str, scope: Mapping[str, Any]) -> str:
    """`${name}` and `${this.name || 'default'}` as Digdag's engine gives them (JSON for non-strings)."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = scope.get(name, default)
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))

    out = re.sub(r"\$\{(?:this\.)?(\w+)(?: \|\| '([^']*)')?\}", one, text)
    assert "${" not in out, text
    return out
