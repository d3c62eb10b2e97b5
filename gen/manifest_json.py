"""manifest.json's raw shapes and their decoding, for gen.manifest (and only it).

The msgspec structs name only the fields gen reads (the rest is skipped, not parsed), which keeps large
manifests fast and memory-light; the code `gen lint` reads has its own shapes, decoded only when asked.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from gen.errors import ManifestError


class RawDependsOn(msgspec.Struct, forbid_unknown_fields=False):
    """A node's depends_on: the nodes it reads."""

    nodes: list[str | None] = msgspec.field(default_factory=list)


class RawMeta(msgspec.Struct, forbid_unknown_fields=False):
    """A meta block."""

    # Only meta.digdag is read: the rest of a meta block (often large) is skipped, not decoded.
    digdag: Any = None


class RawConfig(msgspec.Struct, forbid_unknown_fields=False):
    """A node's config: what gen reads of it."""

    enabled: bool | None = True  # dbt Fusion writes null for "not set": enabled
    materialized: str | None = None
    meta: RawMeta | None = None
    tags: list[str] | str | None = None


class RawNode(msgspec.Struct, forbid_unknown_fields=False):
    """One entry of `nodes`."""

    unique_id: str
    resource_type: str
    name: str
    package_name: str
    original_file_path: str = ""
    patch_path: str | None = None
    fqn: tuple[str, ...] = ()
    config: RawConfig = msgspec.field(default_factory=RawConfig)
    meta: RawMeta | None = None
    tags: list[str] | str | None = None
    depends_on: RawDependsOn | None = None
    version: str | int | float | None = None
    latest_version: str | int | float | None = None


class RawSource(msgspec.Struct, forbid_unknown_fields=False):
    """One entry of `sources`."""

    unique_id: str
    name: str
    source_name: str = ""
    package_name: str = ""
    original_file_path: str = ""


class RawMetadata(msgspec.Struct, forbid_unknown_fields=False):
    """The manifest's metadata."""

    dbt_schema_version: str = ""
    dbt_version: str = ""
    project_name: str | None = None
    project_id: str | None = None
    adapter_type: str | None = None


class RawManifest(msgspec.Struct, forbid_unknown_fields=False):
    """What `gen workflows` reads of a manifest."""

    metadata: RawMetadata
    nodes: dict[str, RawNode]
    sources: dict[str, RawSource] = msgspec.field(default_factory=dict)


# The same shapes plus the code `gen lint` reads: decoded only when asked, in the same single pass.


class RawConfigWithCode(RawConfig, forbid_unknown_fields=False):
    """A node's config with what `gen lint` reads too."""

    incremental_strategy: str | None = None


class RawDependsOnWithMacros(RawDependsOn, forbid_unknown_fields=False):
    """depends_on with the macros a node or macro calls."""

    macros: list[str | None] | None = msgspec.field(default_factory=list)


class RawNodeWithCode(RawNode, forbid_unknown_fields=False):
    """One entry of `nodes` with its code, for `gen lint`."""

    # Nulls in fields gen reads only for lint are taken as "not set": one must not refuse the manifest.
    config: RawConfigWithCode = msgspec.field(default_factory=RawConfigWithCode)
    depends_on: RawDependsOnWithMacros | None = None
    raw_code: str | None = None
    raw_sql: str | None = None  # schemas before v7
    compiled_code: str | None = None
    compiled_sql: str | None = None
    language: str | None = "sql"


class RawMacro(msgspec.Struct, forbid_unknown_fields=False):
    """One entry of `macros`, for `gen lint`."""

    resource_type: str | None = ""
    package_name: str | None = ""
    original_file_path: str | None = ""
    macro_sql: str | None = None
    depends_on: RawDependsOnWithMacros | None = None


class RawManifestWithCode(RawManifest, forbid_unknown_fields=False):
    """What `gen lint` reads of a manifest: RawManifest plus the code of nodes and macros."""

    nodes: dict[str, RawNodeWithCode]  # type: ignore[assignment]
    macros: dict[str, RawMacro] = msgspec.field(default_factory=dict)


_Shape = TypeVar("_Shape", bound=RawManifest)


def decode(data: bytes, where: str, *, shape: type[_Shape]) -> _Shape:
    """Decode a manifest's bytes into `shape`; a ManifestError names the file and, when one is at fault,
    the node and its file."""
    node_shape = RawNodeWithCode if shape is RawManifestWithCode else RawNode
    try:
        return msgspec.json.decode(data, type=shape)
    except msgspec.ValidationError as e:
        text = str(e)
        if "Expected `object`, got" in text and "at `$`" not in text and "- at" not in text:
            raise ManifestError(f"not a dbt manifest: the top level must be a JSON object ({text})",
                                source=where) from e
        if "Object missing required field `nodes`" in text and "- at `$." not in text:
            raise ManifestError("not a dbt manifest: it has no `nodes` object", source=where) from e
        if "Object missing required field `metadata`" in text and "- at `$." not in text:
            raise ManifestError("not a dbt manifest: it has no `metadata` object", source=where) from e
        raise ManifestError(f"unexpected shape: {_name_the_node(data, node_shape, text)}", source=where) from e
    except msgspec.DecodeError as e:
        raise ManifestError(f"not valid JSON ({e}); the file may be truncated", source=where) from e


class RawNodes(msgspec.Struct, forbid_unknown_fields=False):
    """The nodes undecoded, to find the one a decoding error is about."""

    nodes: dict[str, msgspec.Raw] = msgspec.field(default_factory=dict)


def _name_the_node(data: Any, shape: type, text: str) -> str:
    """msgspec says `$.nodes[...]` for an error inside a node: find the node and name it and its file."""
    if "$.nodes[...]" not in text:
        return text
    try:
        nodes = msgspec.json.decode(data, type=RawNodes).nodes
    except (msgspec.ValidationError, msgspec.DecodeError):
        return text
    for uid, raw in nodes.items():
        try:
            msgspec.json.decode(raw, type=shape)
        except msgspec.ValidationError as e:
            try:
                file = msgspec.json.decode(raw, type=RawFile).original_file_path
            except (msgspec.ValidationError, msgspec.DecodeError):
                file = ""
            return f"node {uid}{f' ({file})' if file else ''}: {e}"
    return text


class RawFile(msgspec.Struct, forbid_unknown_fields=False):
    """The file of a node, to name it in an error."""

    original_file_path: str = ""
