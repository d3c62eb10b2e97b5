"""Small projects whose whole generated trees are committed under tests/golden/<case>/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gen.config import parse_config
from gen.manifest import load_manifest
from gen.plan import plan_workflows
from gen.render import render_tree
from tests.conftest import manifest_dict, node

GOLDEN = Path(__file__).resolve().parent / "golden"


def _every_schedule() -> tuple[dict[str, Any], dict[str, Any]]:
    nodes = [
        node("raw_events", materialized="view", meta={"schedule": {"minutes_interval>": 15}}),
        node("events_hourly", deps=("model.shop.raw_events",), materialized="incremental",
             meta={"schedule": {"hourly>": "05:00"}, "timezone": "America/New_York"}),
        node("events_daily", deps=("model.shop.events_hourly",),
             meta={"schedule": {"daily>": "02:00:00"}, "timezone": "America/New_York", "window": "previous"}),
        node("events_weekly", deps=("model.shop.events_daily",),
             meta={"schedule": {"weekly>": "Mon,03:00:00", "skip_on_overtime": True},
                   "timezone": "America/New_York", "window": "previous"}),
        node("events_monthly", deps=("model.shop.events_daily",),
             meta={"schedule": {"monthly>": "1,04:00:00", "start": "2024-01-01"}, "timezone": "Asia/Tokyo",
                   "window": "previous"}),
        node("report_cron", deps=("model.shop.events_daily",),
             meta={"schedule": {"cron>": "15 6 * * *", "skip_delayed_by": "2h"}, "timezone": "America/New_York",
                   "window": "previous"}),
        node("adhoc", deps=("model.shop.events_daily",), meta={"schedule": None}),
        node("odd_cron", deps=("model.shop.events_daily",), meta={"schedule": {"cron>": "0 9,18 * * *"}}),
        node("countries", resource_type="seed"),
        node("orders_snapshot", resource_type="snapshot", meta={"schedule": {"daily>": "01:00:00"}}),
        node("fct_orders", version=1, deps=("seed.shop.countries",)),
        node("fct_orders", version=2, deps=("seed.shop.countries", "model.shop.raw_events")),
        node("dim_a", meta={"workflow": "marts", "schedule": {"daily>": "05:00:00"}}),
        node("dim_b", deps=("model.shop.dim_a", "model.shop.fct_orders.v2"),
             meta={"workflow": "marts", "schedule": {"daily>": "05:00:00"}}),
    ]
    config = {"timezone": "UTC", "schedule": {"daily>": "00:30:00"},
              "dbt": {"vars": {"region": "jp", "quote's": "a \"b\" ${c} `d` $e"}},
              "kubernetes": {"namespace": "analytics", "values": {"image": {"repository": "example/dbt"}}}}
    return manifest_dict(*nodes), config


def _dst_and_overrides() -> tuple[dict[str, Any], dict[str, Any]]:
    """DST zones (the shared session library), the reader's own and previous session, an unscheduled
    upstream, a package node, a group, per-workflow Kubernetes overrides and the Digdag blocks."""
    ny = {"timezone": "America/New_York"}
    nodes = [
        node("clicks", meta={"schedule": {"hourly>": "05:00"}, **ny}),
        node("clicks_daily", deps=("model.shop.clicks",),
             meta={"schedule": {"daily>": "02:00:00"}, "window": "previous", **ny}),
        node("clicks_summary", deps=("model.shop.clicks_daily",),
             meta={"schedule": {"daily>": "04:00:00"}, "window": "previous", **ny}),
        node("clicks_enriched", deps=("model.shop.clicks_daily", "model.shop.lookup"),
             meta={"schedule": {"daily>": "03:00:00"}, **ny, "namespace": "heavy", "timeout_seconds": 7200,
                   "retry": {"limit": 3, "interval": 300, "interval_type": "exponential"}}),
        node("lookup", meta={"schedule": None}),
        node("berlin_hourly", deps=("model.shop.clicks",),
             meta={"schedule": {"hourly>": "15:00"}, "timezone": "Europe/Berlin"}),
        node("util_dates", package="utils"),
        node("uses_util", deps=("model.utils.util_dates",), meta={"workflow": "util_group"}),
        node("uses_util_too", deps=("model.shop.uses_util",), meta={"workflow": "util_group"}),
    ]
    config = {"timezone": "UTC", "schedule": {"daily>": "01:00:00"}, "include_packages": ["utils"],
              "retry": 1, "export": {"team": "data-platform"},
              "error": {"http>": "https://hooks.example.com/dbt", "method": "POST",
                        "content": {"text": "dbt failed: ${session_time}"}, "content_format": "json"},
              "sla": {"time": "09:00", "+late": {"echo>": "not done by 09:00"}},
              "kubernetes": {"namespace": "analytics"}}
    return manifest_dict(*nodes), config


def _split_and_fan_in() -> tuple[dict[str, Any], dict[str, Any]]:
    """An output split into Digdag projects by folder (project_name: on requires across them), and a daily
    reader of hourly tables over the task limit (completion workflows)."""
    hourly = {"schedule": {"hourly>": "10:00"}}
    nodes = [node(f"events_{i}", path=f"models/staging/events_{i}.sql", meta=hourly) for i in range(3)]
    nodes += [node(f"stg_{i:02d}", path=f"models/staging/stg_{i:02d}.sql") for i in range(40)]
    nodes += [node(f"mart_{i:02d}", path=f"models/marts/mart_{i:02d}.sql", deps=(f"model.shop.stg_{i:02d}",))
              for i in range(40)]
    nodes.append(node("daily_events", path="models/marts/daily_events.sql",
                      deps=tuple(f"model.shop.events_{i}" for i in range(3)),
                      meta={"schedule": {"daily>": "02:00:00"}, "window": "previous"}))
    config = {"schedule": {"daily>": "01:00:00"}, "max_project_bytes": 110000, "max_attempt_tasks": 60}
    return manifest_dict(*nodes), config


CASES = {"every_schedule": _every_schedule, "dst_and_overrides": _dst_and_overrides,
         "split_and_fan_in": _split_and_fan_in}


def render_case(name: str, tmp: Path) -> dict[str, str]:
    """The rendered tree of one case."""
    manifest, config = CASES[name]()
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    plan = plan_workflows(load_manifest(path), parse_config(config, where="gen.yml"))
    return render_tree(plan)
