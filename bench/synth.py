"""Synthetic dbt manifests (schema v12, the shape dbt 1.10 writes after `dbt compile`) of any size.

The shape follows real projects: sources feed staging models, staging feeds intermediate models
(many of them ephemeral), and marts read 1-6 models of the layers below (and earlier marts).
Every model carries generic tests, columns with descriptions, and realistic raw_code/compiled_code,
so a model costs about 10 KB of manifest (with its tests and sources); the manifest also carries the
macros of dbt, its adapter and two packages, docs, parent_map and child_map.

Schedules are a realistic mix: gen.yml schedules everything daily, with a timezone per business domain
(DST zones among them: New York, Berlin, London, Sydney; fixed ones: Tokyo, Kolkata, UTC). Through
config.meta.digdag some marts run hourly, a few weekly or monthly, and some have no schedule (run by
require> only); hourly staging groups per source system (meta.digdag.workflow) and daily report groups
complete it. Groups are only formed where they cannot make workflows depend on each other in a cycle.

Deterministic: the same (models, seed) always gives the same bytes. Nodes are written one at a time,
so building a 50,000-model manifest needs little memory.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

PROJECT = "bench"
DBT_VERSION = "1.10.11"
SCHEMA_URL = "https://schemas.getdbt.com/dbt/manifest/v12.json"
DOMAINS = ("finance", "sales", "marketing", "product", "ops", "support", "growth", "supply")
_WORDS = (
    "account", "active", "amount", "balance", "billing", "campaign", "channel", "customer", "daily", "date",
    "delivery", "device", "discount", "event", "first", "invoice", "item", "last", "lifetime", "line",
    "margin", "order", "partner", "payment", "plan", "price", "product", "quantity", "refund", "region",
    "revenue", "session", "shipment", "signup", "status", "store", "subscription", "tax", "total", "user",
    "vendor", "visit", "warehouse", "weekly", "churn", "cohort", "funnel", "ledger", "inventory", "ticket",
)
_PROSE = (
    "the", "one row per", "as reported by", "including", "excluding", "deduplicated", "in the source system",
    "converted to UTC", "null when unknown", "see the upstream model", "for reporting", "updated daily",
    "grain:", "derived from", "joined on", "filtered to", "latest value of", "sum of", "count of",
    "business key", "surrogate key", "in cents", "in the account currency", "after refunds",
)
_TYPES = ("varchar", "bigint", "integer", "numeric(18,2)", "timestamp", "date", "boolean", "double")
_DAILY = {"daily>": "02:00:00"}
_HOURLY = {"hourly>": "10:00"}
_LATE_DAILY = {"daily>": "06:30:00"}
_WEEKLY = {"weekly>": "Mon,04:00:00"}
_MONTHLY = {"monthly>": "1,05:00:00"}


@dataclass
class _Model:
    name: str
    layer: str
    domain: str
    materialized: str
    deps: list[str]
    columns: list[str]
    digdag: dict[str, Any] = field(default_factory=dict)
    version: int | None = None

    @property
    def uid(self) -> str:
        return f"model.{PROJECT}.{self.name}" + (f".v{self.version}" if self.version is not None else "")


def digest_of_builder() -> str:
    """A short hash of this file: cached manifests are rebuilt when the builder changes."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:10]


def write_manifest(path: Path, models: int, *, seed: int = 7) -> dict[str, int]:
    """Write a manifest of `models` models to `path`; returns counts of what it holds."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        counts = _Builder(models, seed).write(handle)
    tmp.replace(path)
    counts["bytes"] = path.stat().st_size
    return counts


class _Builder:
    def __init__(self, models: int, seed: int) -> None:
        self.n = models
        self.rng = random.Random(f"{seed}:{models}")
        self.text_rng = random.Random(f"text:{seed}:{models}")
        self.models: list[_Model] = []
        self.sources: list[tuple[str, str, list[str]]] = []  # (system, table, columns)
        self.seeds: list[str] = []
        self.snapshots: list[tuple[str, str]] = []  # (name, source uid)
        self._plan()

    # --- the graph --------------------------------------------------------------------------------

    def _plan(self) -> None:
        rng, n = self.rng, self.n
        n_stg = max(3, n * 30 // 100)
        n_int = max(2, n * 25 // 100)
        n_rpt = max(1, n * 4 // 100)
        n_mart = max(2, n - n_stg - n_int - n_rpt)
        systems = [f"{w}_{i:02d}" for i, w in enumerate(self._words(max(3, n // 400), rng))]
        grouped_systems = set(systems[: max(1, len(systems) // 12)])
        for i in range(n_stg):
            system = systems[i % len(systems)]
            table = f"{rng.choice(_WORDS)}_{rng.choice(_WORDS)}_{i}"
            cols = self._columns(rng, 4, 10)
            self.sources.append((system, table, cols))
            src = f"source.{PROJECT}.{system}.{table}"
            deps = [src]
            if rng.random() < 0.1 and self.sources[:-1]:
                other = rng.choice(self.sources[:-1])
                deps.append(f"source.{PROJECT}.{other[0]}.{other[1]}")
            meta: dict[str, Any] = {}
            if system in grouped_systems:
                meta = {"workflow": f"stg_{system}", "schedule": _HOURLY}
            self.models.append(_Model(f"stg_{system}__{table}", "staging", rng.choice(DOMAINS),
                                      "view" if rng.random() < 0.8 else "table", deps, cols, meta))
        self.seeds = [f"seed_{w}_{i}" for i, w in enumerate(self._words(max(1, n // 50), rng))]
        for i in range(max(1, n // 100)):
            system, table, _ = self.sources[rng.randrange(len(self.sources))]
            self.snapshots.append((f"snap_{table}_{i}", f"source.{PROJECT}.{system}.{table}"))
        staging = [m.uid for m in self.models]
        lower = list(staging)
        for i in range(n_int):
            domain = DOMAINS[i % len(DOMAINS)]
            deps = self._pick(rng, lower, 1, 4, recent=len(lower) - len(staging))
            roll = rng.random()
            mat = "ephemeral" if roll < 0.4 else "view" if roll < 0.7 else "table"
            model = _Model(f"int_{domain}_{rng.choice(_WORDS)}_{i}", "intermediate", domain, mat, deps,
                           self._columns(rng, 3, 8))
            self.models.append(model)
            lower.append(model.uid)
        seeds = [f"seed.{PROJECT}.{s}" for s in self.seeds]
        marts: list[str] = []
        i = 0
        while len(marts) < n_mart:
            i += 1
            domain = DOMAINS[i % len(DOMAINS)]
            pool = lower + marts
            deps = self._pick(rng, pool, 1, 6, recent=len(marts))
            if rng.random() < 0.15:
                deps.append(rng.choice(seeds))
            roll = rng.random()
            mat = "table" if roll < 0.55 else "incremental" if roll < 0.9 else "view"
            meta = {}
            roll = rng.random()
            if roll < 0.03:
                meta = {"schedule": _DAILY, "timezone": "Asia/Tokyo"}
            elif roll < 0.06:
                meta = {"schedule": _HOURLY, "timezone": "UTC"}
            elif roll < 0.08:
                meta = {"schedule": _LATE_DAILY, "window": "previous"}
            elif roll < 0.095:
                meta = {"schedule": _WEEKLY, "window": "previous"}
            elif roll < 0.1:
                meta = {"schedule": _MONTHLY, "window": "previous"}
            elif roll < 0.15:
                meta = {"schedule": "none"}
            kind = "fct" if i % 2 else "dim"
            model = _Model(f"{kind}_{domain}_{rng.choice(_WORDS)}_{i}", "marts", domain, mat, deps,
                           self._columns(rng, 4, 12), meta)
            if i % 997 == 5 and len(marts) + 2 <= n_mart:  # a versioned model now and then: v1 and v2 side by side
                model.version = 1
                self.models.append(model)
                marts.append(model.uid)
                model = _Model(model.name, "marts", domain, mat, [*deps, model.uid], model.columns, meta, 2)
            self.models.append(model)
            marts.append(model.uid)
        # Reports read marts and are read by nothing, so grouping them cannot create a cycle.
        for i in range(n_rpt):
            domain = DOMAINS[i % len(DOMAINS)]
            meta = {}
            if i % 5 == 0:
                meta = {"workflow": f"reporting_{domain}", "schedule": _LATE_DAILY, "timezone": "Asia/Tokyo"}
            self.models.append(_Model(f"rpt_{domain}_{rng.choice(_WORDS)}_{i}", "reports", domain,
                                      "table", self._pick(rng, marts, 1, 6, recent=len(marts)),
                                      self._columns(rng, 3, 10), meta))

    @staticmethod
    def _words(count: int, rng: random.Random) -> list[str]:
        return [rng.choice(_WORDS) for _ in range(count)]

    @staticmethod
    def _pick(rng: random.Random, pool: list[str], low: int, high: int, *, recent: int) -> list[str]:
        """1-6 parents, mostly among the most recent models of the pool (real DAGs are local)."""
        count = min(len(pool), rng.randint(low, high))
        out: list[str] = []
        window = max(50, min(len(pool), 400))
        for _ in range(count):
            if recent and rng.random() < 0.6:
                choice = pool[len(pool) - 1 - rng.randrange(min(window, len(pool)))]
            else:
                choice = pool[rng.randrange(len(pool))]
            if choice not in out:
                out.append(choice)
        return out

    @staticmethod
    def _columns(rng: random.Random, low: int, high: int) -> list[str]:
        cols = ["id"]
        for _ in range(rng.randint(low, high)):
            name = f"{rng.choice(_WORDS)}_{rng.choice(_WORDS)}"
            if name not in cols:
                cols.append(name)
        return cols

    # --- text -------------------------------------------------------------------------------------

    def _sentence(self, low: int, high: int) -> str:
        rng = self.text_rng
        words = [rng.choice(_PROSE if rng.random() < 0.3 else _WORDS) for _ in range(rng.randint(low, high))]
        return " ".join(words).capitalize() + "."

    def _column_block(self, cols: list[str]) -> dict[str, Any]:
        out = {}
        for col in cols:
            out[col] = {"name": col, "description": self._sentence(3, 10), "meta": {},
                        "data_type": self.text_rng.choice(_TYPES), "constraints": [],
                        "quote": None, "config": {"meta": {}, "tags": []}, "tags": [], "granularity": None,
                        "doc_blocks": []}
        return out

    def _sql(self, model: _Model, names: dict[str, str], compiled: bool) -> str:
        ctes = []
        for dep in model.deps:
            short = dep.rsplit(".", 1)[-1] if not dep.startswith("model.") else names[dep]
            if compiled:
                rel = f'"analytics"."{PROJECT}_{model.layer}"."{short}"'
            elif dep.startswith("source."):
                _, _, system, table = dep.split(".", 3)
                rel = f"{{{{ source('{system}', '{table}') }}}}"
            else:
                rel = f"{{{{ ref('{short}') }}}}"
            ctes.append(f"{short} as (\n\n    select * from {rel}\n\n)")
        first = ctes[0].split(" as ", 1)[0]
        cols = ",\n        ".join(f"{first}.{c}" if i % 3 else f"cast({c} as varchar) as {c}"
                                   for i, c in enumerate(model.columns))
        joins = "".join(f"\n    left join {c.split(' as ', 1)[0]} using (id)" for c in ctes[1:])
        head = ("{{ config(materialized='incremental', unique_key='id') }}\n\n"
                if model.materialized == "incremental" and not compiled else "")
        tail = ("\n\n{% if is_incremental() %}\nwhere updated_at > (select max(updated_at) from {{ this }})"
                "\n{% endif %}" if model.materialized == "incremental" and not compiled else "")
        body = ",\n".join(ctes)
        return (f"{head}-- {self._sentence(6, 14)}\nwith {body},\n\nfinal as (\n\n    select\n"
                f"        {cols}\n    from {first}{joins}\n\n)\n\nselect * from final{tail}\n")

    # --- nodes ------------------------------------------------------------------------------------

    def _config(self, materialized: str, meta: dict[str, Any], tags: list[str]) -> dict[str, Any]:
        return {"enabled": True, "alias": None, "schema": None, "database": None, "tags": tags, "meta": meta,
                "group": None, "materialized": materialized, "incremental_strategy": None, "batch_size": None,
                "lookback": 1, "begin": None, "persist_docs": {}, "post-hook": [], "pre-hook": [],
                "quoting": {}, "column_types": {}, "full_refresh": None,
                "unique_key": "id" if materialized == "incremental" else None, "on_schema_change": "ignore",
                "on_configuration_change": "apply", "grants": {}, "packages": [],
                "docs": {"show": True, "node_color": None}, "contract": {"enforced": False, "alias_types": True},
                "event_time": None, "concurrent_batches": None, "access": "protected"}

    def _model_node(self, model: _Model, names: dict[str, str], index: int) -> dict[str, Any]:
        folder = f"models/{model.layer}/{model.domain}"
        file_name = model.name + (f"_v{model.version}" if model.version is not None else "")
        tags = [model.layer] + (["pii"] if index % 17 == 0 else [])
        meta = {"owner": f"team-{model.domain}"}
        if model.digdag:
            meta["digdag"] = model.digdag
        refs = [{"name": names[d], "package": None, "version": None} for d in model.deps if d.startswith("model.")]
        sources = [d.split(".", 3)[2:] for d in model.deps if d.startswith("source.")]
        return {
            "database": "analytics", "schema": f"{PROJECT}_{model.layer}", "name": model.name,
            "resource_type": "model", "package_name": PROJECT, "path": f"{model.layer}/{model.domain}/{file_name}.sql",
            "original_file_path": f"{folder}/{file_name}.sql", "unique_id": model.uid,
            "fqn": [PROJECT, model.layer, model.domain, model.name] + ([f"v{model.version}"] if model.version else []),
            "alias": model.name, "checksum": {"name": "sha256", "checksum": self._hex(model.uid)},
            "config": self._config(model.materialized, meta, tags), "tags": tags,
            "description": self._sentence(8, 30),
            "columns": self._column_block(model.columns) if index % 5 < 3 else {},
            "meta": meta, "group": None, "docs": {"show": True, "node_color": None},
            "patch_path": f"{PROJECT}://{folder}/_{model.domain}__models.yml", "build_path": None,
            "unrendered_config": {"materialized": model.materialized}, "created_at": 1750000000.0 + index / 1000,
            "relation_name": None if model.materialized == "ephemeral"
            else f'"analytics"."{PROJECT}_{model.layer}"."{model.name}"',
            "raw_code": self._sql(model, names, False), "doc_blocks": [], "language": "sql", "refs": refs,
            "sources": sources, "metrics": [], "functions": [],
            "depends_on": {"macros": self._macros_used(index), "nodes": model.deps},
            "compiled_path": f"target/compiled/{PROJECT}/{folder}/{file_name}.sql",
            "compiled": True, "compiled_code": self._sql(model, names, True), "extra_ctes_injected": True,
            "extra_ctes": [], "contract": {"enforced": False, "alias_types": True, "checksum": None},
            "access": "protected", "constraints": [], "version": model.version,
            "latest_version": 2 if model.version is not None else None, "deprecation_date": None,
            "primary_key": ["id"], "time_spine": None,
        }

    def _test_node(self, kind: str, model: _Model, column: str, names: dict[str, str], index: int,
                   extra: list[str]) -> dict[str, Any]:
        name = f"{kind}_{model.name}_{column}"
        uid = f"test.{PROJECT}.{name}.{self._hex(model.uid + name)[:10]}"
        folder = f"models/{model.layer}/{model.domain}"
        kwargs: dict[str, Any] = {"column_name": column,
                                  "model": f"{{{{ get_where_subquery(ref('{model.name}')) }}}}"}
        if kind == "accepted_values":
            kwargs["values"] = ["active", "inactive", "pending", "cancelled"]
        if kind == "relationships":
            kwargs.update(to=f"ref('{names[extra[0]]}')", field="id")
        return {
            "database": "analytics", "schema": f"{PROJECT}_dbt_test__audit", "name": name, "resource_type": "test",
            "package_name": PROJECT, "path": f"{name}.sql", "original_file_path": f"{folder}/_{model.domain}__models.yml",
            "unique_id": uid, "fqn": [PROJECT, model.layer, model.domain, name], "alias": name,
            "checksum": {"name": "none", "checksum": ""},
            "config": {"enabled": True, "alias": None, "schema": "dbt_test__audit", "database": None, "tags": [],
                       "meta": {}, "group": None, "materialized": "test", "severity": "ERROR",
                       "store_failures": None, "store_failures_as": None, "where": None, "limit": None,
                       "fail_calc": "count(*)", "warn_if": "!= 0", "error_if": "!= 0"},
            "tags": [], "description": "", "columns": {}, "meta": {}, "group": None,
            "docs": {"show": True, "node_color": None}, "patch_path": None, "build_path": None,
            "unrendered_config": {}, "created_at": 1750000000.0 + index / 1000, "relation_name": None,
            "raw_code": f"{{{{ test_{kind}(**_dbt_generic_test_kwargs) }}}}", "doc_blocks": [], "language": "sql",
            "refs": [{"name": names[d], "package": None, "version": None} for d in [model.uid, *extra]],
            "sources": [], "metrics": [], "functions": [],
            "depends_on": {"macros": [f"macro.dbt.test_{kind}", "macro.dbt.get_where_subquery"],
                           "nodes": [model.uid, *extra]},
            "compiled_path": f"target/compiled/{PROJECT}/{folder}/{name}.sql", "compiled": True,
            "compiled_code": (f"\n\n\n\nselect\n    {column} as unique_field,\n    count(*) as n_records\n\n"
                              f'from "analytics"."{PROJECT}_{model.layer}"."{model.name}"\nwhere {column} is not null'
                              f"\ngroup by {column}\nhaving count(*) > 1\n\n\n"),
            "extra_ctes_injected": True, "extra_ctes": [],
            "contract": {"enforced": False, "alias_types": True, "checksum": None}, "column_name": column,
            "file_key_name": f"models.{model.name}", "attached_node": model.uid,
            "test_metadata": {"name": kind, "kwargs": kwargs, "namespace": None},
        }

    def _plain_node(self, resource_type: str, name: str, deps: list[str], index: int) -> dict[str, Any]:
        folder = "seeds" if resource_type == "seed" else "snapshots"
        ext = "csv" if resource_type == "seed" else "sql"
        uid = f"{resource_type}.{PROJECT}.{name}"
        cols = self._columns(self.text_rng, 3, 10)
        node = {
            "database": "analytics", "schema": f"{PROJECT}_{folder}", "name": name, "resource_type": resource_type,
            "package_name": PROJECT, "path": f"{name}.{ext}", "original_file_path": f"{folder}/{name}.{ext}",
            "unique_id": uid, "fqn": [PROJECT, name], "alias": name,
            "checksum": {"name": "sha256", "checksum": self._hex(uid)},
            "config": self._config(resource_type, {}, []), "tags": [], "description": self._sentence(5, 20),
            "columns": self._column_block(cols), "meta": {}, "group": None,
            "docs": {"show": True, "node_color": None}, "patch_path": f"{PROJECT}://{folder}/_{folder}.yml",
            "build_path": None, "unrendered_config": {}, "created_at": 1750000000.0 + index / 1000,
            "relation_name": f'"analytics"."{PROJECT}_{folder}"."{name}"', "doc_blocks": [],
            "depends_on": {"macros": [], "nodes": deps},
        }
        if resource_type == "seed":
            node["raw_code"] = ""
            node["root_path"] = "/srv/dbt/bench"
        else:
            node["raw_code"] = (f"\n{{{{ config(unique_key='id', strategy='timestamp', updated_at='updated_at') }}}}"
                                f"\nselect * from {{{{ source('{deps[0].split('.')[2]}', '{deps[0].split('.')[3]}') }}}}\n")
            node["compiled_code"] = node["raw_code"].replace("{{", "").replace("}}", "")
        return node

    def _source_node(self, system: str, table: str, cols: list[str]) -> dict[str, Any]:
        uid = f"source.{PROJECT}.{system}.{table}"
        freshness = {"warn_after": {"count": 12, "period": "hour"}, "error_after": {"count": 24, "period": "hour"},
                     "filter": None}
        return {
            "database": "raw", "schema": system, "name": table, "resource_type": "source", "package_name": PROJECT,
            "path": f"models/staging/{system}/_{system}__sources.yml",
            "original_file_path": f"models/staging/{system}/_{system}__sources.yml", "unique_id": uid,
            "fqn": [PROJECT, "staging", system, system, table], "source_name": system,
            "source_description": self._sentence(5, 20), "loader": "fivetran", "identifier": table,
            "quoting": {"database": None, "schema": None, "identifier": None, "column": None},
            "loaded_at_field": "_fivetran_synced", "loaded_at_query": None, "freshness": freshness,
            "external": None, "description": self._sentence(5, 20), "columns": self._column_block(cols[:3]),
            "meta": {}, "source_meta": {}, "tags": [],
            "config": {"enabled": True, "event_time": None, "freshness": freshness,
                       "loaded_at_field": "_fivetran_synced", "loaded_at_query": None, "meta": {}, "tags": []},
            "patch_path": None, "unrendered_config": {}, "relation_name": f'"raw"."{system}"."{table}"',
            "created_at": 1750000000.0, "unrendered_database": None, "unrendered_schema": None, "doc_blocks": [],
        }

    def _macro(self, package: str, name: str) -> dict[str, Any]:
        body = "\n".join(f"  {{%- set {w} = {self.text_rng.choice(_WORDS)} | default(none) -%}}"
                         for w in self._words(self.text_rng.randint(5, 30), self.text_rng))
        return {
            "name": name, "resource_type": "macro", "package_name": package,
            "path": f"macros/{name}.sql", "original_file_path": f"macros/{name}.sql",
            "unique_id": f"macro.{package}.{name}",
            "macro_sql": f"{{% macro {name}(relation, column_name) %}}\n{body}\n  {{{{ return(adapter.dispatch("
                         f"'{name}', '{package}')(relation, column_name)) }}}}\n{{% endmacro %}}",
            "depends_on": {"macros": []}, "description": "", "meta": {},
            "docs": {"show": True, "node_color": None}, "config": {"meta": {}, "docs": {"show": True, "node_color": None}},
            "patch_path": None, "arguments": [], "created_at": 1750000000.0, "supported_languages": None,
        }

    def _macros_used(self, index: int) -> list[str]:
        return ["macro.dbt.is_incremental"] if index % 3 == 0 else []

    @staticmethod
    def _hex(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    # --- writing ----------------------------------------------------------------------------------

    def _nodes(self) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
        """(unique id, node, depends_on nodes) for every node, in dbt's order (by kind, then file)."""
        names = {m.uid: m.name for m in self.models}
        names.update({f"seed.{PROJECT}.{s}": s for s in self.seeds})
        index = 0
        for model in self.models:
            index += 1
            yield model.uid, self._model_node(model, names, index), model.deps
            if model.materialized == "ephemeral" or model.layer == "intermediate" or index % 5 == 4:
                continue  # dbt cannot test an ephemeral model; many others go untested too
            tests = [("not_null", model.columns[0], []), ("unique", model.columns[0], [])]
            if model.layer != "staging" and len(model.columns) > 2 and index % 3 == 0:
                tests.append(("accepted_values", model.columns[2], []))
            refs = [d for d in model.deps if d.startswith("model.")]
            if model.layer != "staging" and refs and index % 2 == 0:
                tests.append(("relationships", "id", refs[:1]))
            for kind, column, extra in tests:
                index += 1
                node = self._test_node(kind, model, column, names, index, extra)
                yield node["unique_id"], node, node["depends_on"]["nodes"]
        for seed in self.seeds:
            index += 1
            yield f"seed.{PROJECT}.{seed}", self._plain_node("seed", seed, [], index), []
        for name, src in self.snapshots:
            index += 1
            yield f"snapshot.{PROJECT}.{name}", self._plain_node("snapshot", name, [src], index), [src]

    def write(self, out: TextIO) -> dict[str, int]:
        metadata = {"dbt_schema_version": SCHEMA_URL, "dbt_version": DBT_VERSION,
                    "generated_at": "2025-06-01T00:00:00.000000Z",
                    "invocation_id": "00000000-0000-4000-8000-000000000000",
                    "invocation_started_at": "2025-06-01T00:00:00.000000+00:00", "env": {},
                    "project_name": PROJECT, "project_id": hashlib.md5(PROJECT.encode()).hexdigest(),
                    "user_id": None, "send_anonymous_usage_stats": False, "adapter_type": "postgres",
                    "quoting": {"database": True, "schema": True, "identifier": True, "column": None},
                    "run_started_at": "2025-06-01T00:00:00.000000+00:00"}
        out.write('{"metadata": ' + json.dumps(metadata) + ', "nodes": {')
        parents: dict[str, list[str]] = {}
        counts = {"models": len(self.models), "tests": 0, "nodes": 0, "sources": len(self.sources), "macros": 0}
        for i, (uid, node, deps) in enumerate(self._nodes()):
            out.write((", " if i else "") + json.dumps(uid) + ": " + json.dumps(node))
            parents[uid] = deps
            counts["nodes"] += 1
            counts["tests"] += node["resource_type"] == "test"
        out.write('}, "sources": {')
        for i, (system, table, cols) in enumerate(self.sources):
            src = self._source_node(system, table, cols)
            out.write((", " if i else "") + json.dumps(src["unique_id"]) + ": " + json.dumps(src))
            parents[src["unique_id"]] = []
        out.write('}, "macros": {')
        macro_names = [("dbt", f"{w}_{i}") for i, w in enumerate(self._words(420, self.text_rng))]
        macro_names += [("dbt_postgres", f"postgres__{w}_{i}") for i, w in enumerate(self._words(90, self.text_rng))]
        macro_names += [("dbt_utils", f"{w}_{i}") for i, w in enumerate(self._words(110, self.text_rng))]
        macro_names += [("dbt_expectations", f"expect_{w}_{i}") for i, w in enumerate(self._words(80, self.text_rng))]
        macro_names += [(PROJECT, f"{w}_{i}") for i, w in enumerate(self._words(max(5, self.n // 100), self.text_rng))]
        for i, (package, name) in enumerate(macro_names):
            macro = self._macro(package, name)
            out.write((", " if i else "") + json.dumps(macro["unique_id"]) + ": " + json.dumps(macro))
        counts["macros"] = len(macro_names)
        docs = {"doc.dbt.__overview__": {"name": "__overview__", "resource_type": "doc", "package_name": "dbt",
                                         "path": "overview.md", "original_file_path": "docs/overview.md",
                                         "unique_id": "doc.dbt.__overview__", "block_contents": self._sentence(40, 80)}}
        children: dict[str, list[str]] = {uid: [] for uid in parents}
        for uid, deps in parents.items():
            for dep in deps:
                children.setdefault(dep, []).append(uid)
        out.write('}, "docs": ' + json.dumps(docs) + ', "exposures": {}, "metrics": {}, "groups": {}, '
                  '"selectors": {}, "disabled": {}, "parent_map": ' + json.dumps(parents)
                  + ', "child_map": ' + json.dumps({k: sorted(v) for k, v in children.items()})
                  + ', "group_map": {}, "saved_queries": {}, "semantic_models": {}, "unit_tests": {}}')
        return counts


GEN_YML = """\
# gen configuration of the synthetic benchmark project.
project: bench
timezone: UTC
window: current
schedule: {daily>: "03:00:00"}

rules:
  - match: {resource_type: seed}
    schedule: {daily>: "01:00:00"}
  - match: {folder: models/marts/finance}
    timezone: America/New_York
  - match: {folder: models/marts/sales}
    timezone: Europe/Berlin
  - match: {folder: models/marts/marketing}
    timezone: Europe/London
  - match: {folder: models/marts/product}
    timezone: Asia/Tokyo
  - match: {folder: models/marts/ops}
    timezone: Australia/Sydney
  - match: {folder: models/marts/support}
    timezone: Asia/Kolkata
  - match: {folder: models/marts/finance}
    timeout_seconds: 7200

dbt:
  vars: {target_schema: analytics}

kubernetes:
  namespace: data
  chart: charts/dbt-job
  values:
    image:
      repository: example/bench-dbt
      tag: "1.0.0"
"""


if __name__ == "__main__":  # pragma: no cover - a quick look at one manifest
    import sys

    target = Path(sys.argv[2] if len(sys.argv) > 2 else "manifest.json")
    print(write_manifest(target, int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
