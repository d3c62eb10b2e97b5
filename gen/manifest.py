"""manifest.json (dbt schemas v4-v12, best effort for newer) -> frozen typed records.

This module and gen.manifest_json (its raw shapes and their decoding) are the only ones that know the
manifest's raw keys.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgspec

from gen.errors import ManifestError
from gen.manifest_json import RawDependsOnWithMacros, RawManifest, RawManifestWithCode, RawNode, decode

OLDEST_SCHEMA = 4
NEWEST_SCHEMA = 12
SCHEDULABLE_TYPES = frozenset({"model", "seed", "snapshot"})
_SCHEMA_RE = re.compile(r"/manifest/v(\d+)(?:\.json)?$")


# --- public records -------------------------------------------------------------------------------


class Node(msgspec.Struct, frozen=True, gc=False):
    """One dbt node (model, seed, snapshot, test, source, ...) with the fields gen uses.

    A frozen msgspec Struct rather than a dataclass: a manifest has tens of thousands of nodes, and a
    frozen dataclass spends more time in __init__ than the rest of building a node."""

    unique_id: str
    resource_type: str
    name: str
    package: str
    file: str
    patch_file: str | None
    fqn: tuple[str, ...]
    materialized: str
    enabled: bool
    tags: tuple[str, ...]
    digdag: Mapping[str, Any]
    depends_on: tuple[str, ...]
    version: str | None
    latest_version: str | None

    @property
    def origin(self) -> str:
        """The file a user edits to change this node's settings, for error messages."""
        return self.patch_file or self.file

    @property
    def label(self) -> str:
        """Human name of the node: `name` or `name.vN` for versioned models."""
        return f"{self.name}.v{self.version}" if self.version is not None else self.name


def buildable(node: Node) -> bool:
    """True for the nodes `dbt build` materializes and gen schedules: enabled models, seeds, snapshots."""
    if node.resource_type not in SCHEDULABLE_TYPES or not node.enabled:
        return False
    return not (node.resource_type == "model" and node.materialized == "ephemeral")


@dataclass(frozen=True, slots=True)
class Manifest:
    """A loaded manifest: its nodes keyed by unique id, plus what gen needs of its metadata."""

    path: str
    schema_version: int
    dbt_version: str
    project_name: str
    adapter_type: str | None
    nodes: Mapping[str, Node]
    warnings: tuple[str, ...] = ()
    file_sha256: str = ""  # of the file's bytes as read, when loaded with digest=True (else empty)
    code: Mapping[str, NodeCode] = field(default_factory=dict)  # loaded with code=True only (gen lint)

    @property
    def digest(self) -> str:
        """sha256 of the fields gen reads of every node: the same for a re-parse of unchanged dbt code."""
        return _digest(self.nodes.values())


# --- loading --------------------------------------------------------------------------------------


def load_manifest(path: Path, *, project_name: str | None = None, code: bool = False,
                  digest: bool = False) -> Manifest:
    """Read and validate a manifest.json; every failure is a one-line ManifestError naming the file.

    With `code`, the same single decoding also keeps the SQL/Jinja of every node and macro (for gen lint).
    With `digest`, file_sha256 is the sha256 of the bytes read (else empty: only the up-to-date record
    needs it)."""
    where = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError as e:
        raise ManifestError(
            "no such file; run `dbt parse` first, pass --parse, or point --manifest at it", source=where
        ) from e
    except IsADirectoryError as e:
        raise ManifestError("is a directory, not a manifest.json file", source=where) from e
    except PermissionError as e:
        raise ManifestError("permission denied", source=where) from e
    except OSError as e:
        raise ManifestError(f"cannot be read: {e.strerror or e}", source=where) from e
    if not data:
        raise ManifestError("the file is empty; run `dbt parse` to write a manifest", source=where)
    sha256 = hashlib.sha256(data).hexdigest() if digest else ""
    if not code:
        return _build(decode(data, where, shape=RawManifest), where, project_name, sha256)
    raw = decode(data, where, shape=RawManifestWithCode)
    return replace(_build(raw, where, project_name, sha256), code=_code(raw))


def _schema_version(url: str, where: str) -> int:
    match = _SCHEMA_RE.search(url)
    if not match:
        raise ManifestError(
            f"unknown manifest schema {url!r}: expected metadata.dbt_schema_version like "
            ".../manifest/v12.json", source=where)
    return int(match.group(1))


def _build(raw: RawManifest, where: str, project_override: str | None, file_sha256: str) -> Manifest:
    warnings: list[str] = []
    version = _schema_version(raw.metadata.dbt_schema_version, where)
    if version < OLDEST_SCHEMA:
        raise ManifestError(
            f"manifest schema v{version} (dbt {raw.metadata.dbt_version or '?'}) is older than v"
            f"{OLDEST_SCHEMA} (dbt 1.0), the oldest gen reads; re-parse with dbt 1.0 or newer", source=where)
    if version > NEWEST_SCHEMA:
        warnings.append(
            f"{where}: manifest schema v{version} is newer than v{NEWEST_SCHEMA}, the newest gen knows; "
            "reading it as best it can")
    project = project_override or _project_name(raw, where)
    nodes: dict[str, Node] = {}
    for key, rn in raw.nodes.items():
        if key != rn.unique_id:
            raise ManifestError(f"node key {key!r} differs from its unique_id {rn.unique_id!r}", source=where)
        nodes[key] = _node(rn)
    for key, rs in raw.sources.items():
        nodes[key] = Node(
            unique_id=key, resource_type="source", name=f"{rs.source_name}.{rs.name}",
            package=rs.package_name, file=_path(rs.original_file_path), patch_file=None, fqn=(),
            materialized="source", enabled=True, tags=(), digdag={}, depends_on=(), version=None,
            latest_version=None)
    if project_override and not any(n.package == project_override for n in nodes.values()):
        packages = sorted({n.package for n in nodes.values() if n.resource_type != "source"})
        warnings.append(f"{where}: --project-name {project_override!r} is no package of this manifest, so no node "
                        f"gets a workflow (packages: {', '.join(packages) or 'none'})")
    return Manifest(
        path=where, schema_version=version, dbt_version=raw.metadata.dbt_version, project_name=project,
        adapter_type=raw.metadata.adapter_type, nodes=nodes,
        warnings=tuple(warnings), file_sha256=file_sha256)


def _project_name(raw: RawManifest, where: str) -> str:
    if raw.metadata.project_name:
        return raw.metadata.project_name
    # Before schema v10 the manifest names its project only as md5(project name) in project_id.
    packages = {n.package_name for n in raw.nodes.values()}
    if raw.metadata.project_id:
        for package in sorted(packages):
            if hashlib.md5(package.encode()).hexdigest() == raw.metadata.project_id:
                return package
    if len(packages) == 1:
        return next(iter(packages))
    raise ManifestError(
        "cannot tell which package is the root project (metadata has no project_name and no package "
        "matches project_id); pass --project-name", source=where)


def _version(value: str | int | float | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _tags(*values: list[str] | str | None) -> tuple[str, ...]:
    if not any(values) and "" not in values:  # (an empty string is a tag too)
        return ()
    out: set[str] = set()
    for value in values:
        if isinstance(value, str):
            out.add(value)
        elif value:
            out.update(str(v) for v in value)
    return tuple(sorted(out))


def _path(value: str) -> str:
    return value.replace("\\", "/")


def _digdag_meta(rn: RawNode) -> dict[str, Any]:
    """meta.digdag from node.meta (schema YAML, older dbt) overlaid by config.meta (merged config)."""
    merged: dict[str, Any] = {}
    for meta in (rn.meta, rn.config.meta):
        block = meta.digdag if meta is not None else None
        if block is None:
            continue
        if not isinstance(block, dict):
            merged["__invalid__"] = block
            continue
        merged.update(block)
    return merged


def _node(rn: RawNode) -> Node:
    # Positional arguments, in Node's field order: this runs once per node of the manifest.
    config = rn.config
    deps = rn.depends_on.nodes if rn.depends_on else ()
    patch = rn.patch_path.split("://", 1)[-1] if rn.patch_path else None
    no_meta = ((rn.meta is None or rn.meta.digdag is None)
               and (config.meta is None or config.meta.digdag is None))
    return Node(
        rn.unique_id,
        rn.resource_type,
        rn.name,
        rn.package_name,
        _path(rn.original_file_path),
        _path(patch) if patch else None,
        rn.fqn,
        config.materialized or rn.resource_type,
        config.enabled is not False,
        _tags(rn.tags, config.tags),
        {} if no_meta else _digdag_meta(rn),
        tuple(sorted({d for d in deps if d})),
        None if rn.version is None else _version(rn.version),
        None if rn.latest_version is None else _version(rn.latest_version),
    )


def _by_id(node: Node) -> str:
    return node.unique_id


def nodes_digest(nodes: Any) -> str:
    """sha256 of the fields gen reads of these nodes (what a generated file's header names)."""
    return _digest(nodes)


def _digest(nodes: Any) -> str:
    """sha256 of the fields gen reads, so re-parsing unchanged dbt code keeps out/ byte-identical."""
    # Unique ids are unique, so sorting by them sorts the rows; tuples encode as the lists they were.
    rows = [(n.unique_id, n.resource_type, n.name, n.package, n.file, n.patch_file, n.fqn, n.materialized,
             n.enabled, n.tags, n.digdag, n.depends_on, n.version, n.latest_version)
            for n in sorted(nodes, key=_by_id)]
    return hashlib.sha256(msgspec.json.encode(rows, order="sorted")).hexdigest()


# --- code text, for `gen lint` ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeCode:
    """The code of one node or macro (resource_type "macro"), with the macros it calls."""

    unique_id: str
    resource_type: str
    package: str
    file: str
    raw_code: str
    compiled_code: str | None
    language: str
    materialized: str
    incremental_strategy: str | None
    macros: tuple[str, ...]


def _code(raw: RawManifestWithCode) -> dict[str, NodeCode]:
    """The SQL/Jinja of every node and macro, keyed by unique id."""
    code = {uid: NodeCode(
        unique_id=uid, resource_type=rn.resource_type or "macro", package=rn.package_name,
        file=_path(rn.original_file_path), raw_code=rn.raw_code or rn.raw_sql or "",
        compiled_code=rn.compiled_code or rn.compiled_sql, language=rn.language or "sql",
        materialized=rn.config.materialized or rn.resource_type or "macro",
        incremental_strategy=rn.config.incremental_strategy, macros=_macros(rn.depends_on))
        for uid, rn in raw.nodes.items()}
    code.update((uid, NodeCode(
        unique_id=uid, resource_type=rm.resource_type or "macro", package=rm.package_name or "",
        file=_path(rm.original_file_path or ""), raw_code=rm.macro_sql or "", compiled_code=None,
        language="sql", materialized=rm.resource_type or "macro", incremental_strategy=None,
        macros=_macros(rm.depends_on)))
        for uid, rm in raw.macros.items())
    return code


def _macros(deps: RawDependsOnWithMacros | None) -> tuple[str, ...]:
    return tuple(m for m in (deps.macros or ()) if m) if deps is not None else ()
