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


CASES = {"every_schedule": _every_schedule}


def render_case(name: str, tmp: Path) -> dict[str, str]:
    """The rendered tree of one case."""
    manifest, config = CASES[name]()
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    plan = plan_workflows(load_manifest(path), parse_config(config, where="gen.yml"))
    return render_tree(plan)
