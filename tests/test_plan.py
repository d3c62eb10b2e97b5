"""Planning: which workflows exist, what they build, their schedules and cross-workflow requires."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gen.config import load_config, parse_config
from gen.errors import ConfigError, CycleError, MetaError, PlanError, ScheduleError
from gen.manifest import load_manifest
from gen.plan import plan_workflows
from tests.conftest import FIXTURES, manifest_dict, node

DAILY = {"schedule": {"daily>": "07:00:00"}}
HOURLY = {"schedule": {"hourly>": "10:00"}}


def plan_of(tmp_path: Path, *nodes: dict[str, Any], config: dict[str, Any] | None = None, **kw: Any):  # type: ignore[no-untyped-def]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest_dict(*nodes, **kw)))
    return plan_workflows(load_manifest(path), parse_config(config or {}, where="gen.yml"))


def by_name(plan):  # type: ignore[no-untyped-def]
    return {w.name: w for w in plan.workflows}


def test_one_workflow_per_table_and_what_is_left_out(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        node("stg_orders", materialized="view", deps=("source.shop.raw.orders",)),
        node("int_orders", materialized="ephemeral", deps=("model.shop.stg_orders",)),
        node("fct_orders", deps=("model.shop.int_orders",)),
        node("countries", resource_type="seed"),
        node("orders_snapshot", resource_type="snapshot", deps=("model.shop.stg_orders",)),
        node("old", enabled=False),
        node("hidden", meta={"enabled": False}),
        node("not_null_fct_orders_id", resource_type="test", deps=("model.shop.fct_orders",)),
        node("pkg_model", package="dbt_utils"),
        sources=("orders",),
    )
    names = by_name(plan)
    assert sorted(names) == ["countries", "fct_orders", "orders_snapshot", "stg_orders"]
    # the ephemeral model is contracted: fct_orders reads stg_orders through it
    assert names["fct_orders"].upstreams == ("stg_orders",)
    assert names["orders_snapshot"].upstreams == ("stg_orders",)
    assert plan.excluded == ("model.shop.hidden",)
    assert names["fct_orders"].selects == ("fct_orders",)


def test_packages_only_when_asked(tmp_path: Path) -> None:
    nodes = (node("pkg_model", package="utils"), node("orders", deps=("model.utils.pkg_model",)))
    assert "utils__pkg_model" not in by_name(plan_of(tmp_path, *nodes))
    plan = plan_of(tmp_path, *nodes, config={"include_packages": ["utils"]})
    assert by_name(plan)["orders"].upstreams == ("utils__pkg_model",)


def test_versioned_models_get_distinct_names_and_selectors(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, node("fct_orders", version=1), node("fct_orders", version=2))
    names = by_name(plan)
    assert names["fct_orders_v1"].selects == ("fct_orders.v1",)
    assert names["fct_orders_v2"].selects == ("fct_orders.v2",)


def test_names_dbt_would_read_more_widely_are_selected_by_fqn(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, node("orders"), node("orders", package="other"),
                   config={"include_packages": ["other"]})
    names = by_name(plan)
    assert names["orders"].selects == ("fqn:shop.orders",)
    assert names["other__orders"].selects == ("fqn:other.orders",)
    # a model named like a package, or like a test, would select the package or the test too
    plan = plan_of(tmp_path, node("shop", path="models/marts/shop.sql"), node("dupe"),
                   node("dupe", resource_type="test", deps=("model.shop.dupe",)), node("plain"))
    names = by_name(plan)
    assert names["shop"].selects == ("fqn:shop.shop",)
    assert names["dupe"].selects == ("fqn:shop.dupe",)
    assert names["plain"].selects == ("plain",)


def test_grouping_puts_nodes_in_one_workflow(tmp_path: Path) -> None:
    plan = plan_of(tmp_path,
                   node("a", meta={"workflow": "marts", **DAILY}),
                   node("b", deps=("model.shop.a",), meta={"workflow": "marts", **DAILY}),
                   node("c", deps=("model.shop.b",), meta=DAILY))
    names = by_name(plan)
    assert names["marts"].selects == ("a", "b")
    assert names["marts"].upstreams == ()  # a -> b inside one workflow needs no require>
    assert names["c"].upstreams == ("marts",)


def test_conflicting_schedules_in_one_workflow_name_both_nodes(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError) as info:
        plan_of(tmp_path, node("a", meta={"workflow": "w", **DAILY}), node("b", meta={"workflow": "w", **HOURLY}))
    text = str(info.value)
    assert "workflow 'w'" in text and "a (" in text and "b (" in text
    assert "daily>: 07:00:00 vs hourly>: 10:00" in text


def test_grouping_cycle_lists_the_cycle(tmp_path: Path) -> None:
    with pytest.raises(CycleError) as info:
        plan_of(tmp_path,
                node("a", meta={"workflow": "x"}),
                node("b", deps=("model.shop.a",), meta={"workflow": "y"}),
                node("c", deps=("model.shop.b",), meta={"workflow": "x"}))
    assert "cycle: x -> y -> x" in str(info.value) or "cycle: y -> x -> y" in str(info.value)


def test_node_cycle_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CycleError, match="the dbt graph has a cycle"):
        plan_of(tmp_path, node("a", deps=("model.shop.b",)), node("b", deps=("model.shop.a",)))


def test_bad_meta_names_node_and_file(tmp_path: Path) -> None:
    bad = node("orders", meta={"schedule": {"daily>": "25:00:00"}})
    bad["patch_path"] = "shop://models/marts/_marts.yml"
    with pytest.raises(ScheduleError) as info:
        plan_of(tmp_path, bad)
    assert str(info.value).startswith("models/marts/_marts.yml: model orders: meta.digdag: daily>:")
    with pytest.raises(MetaError, match="unknown key 'schedul'"):
        plan_of(tmp_path, node("orders", meta={"schedul": {}}))
    with pytest.raises(MetaError, match=r"meta\.digdag must be a mapping"):
        plan_of(tmp_path, node("orders", config_meta={"digdag": "daily"}))


def test_rules_match_by_tag_path_folder_and_name_and_meta_wins(tmp_path: Path) -> None:
    config = {
        "timezone": "Asia/Tokyo",
        "schedule": {"daily>": "03:00:00"},
        "rules": [
            {"match": {"folder": "models/staging"}, "schedule": {"daily>": "05:00:00"}},
            {"match": {"tag": "hourly"}, "schedule": {"hourly>": "15:00"}, "timezone": "UTC"},
            {"match": {"name": "fct_*", "path": "models/marts/*"}, "schedule": {"daily>": "09:00:00"}},
        ],
    }
    plan = plan_of(tmp_path,
                   node("stg_a", path="models/staging/stg_a.sql"),
                   node("stg_b", path="models/staging/stg_b.sql", tags=("hourly",)),
                   node("fct_c", path="models/marts/fct_c.sql"),
                   node("fct_d", path="models/other/fct_d.sql"),
                   node("fct_e", path="models/marts/fct_e.sql", meta={"schedule": None}),
                   config=config)
    names = by_name(plan)
    assert names["stg_a"].schedule.describe() == "daily>: 05:00:00"
    assert names["stg_b"].schedule.describe() == "hourly>: 15:00"  # later rule wins
    assert names["stg_b"].timezone == "UTC"
    assert names["fct_c"].schedule.describe() == "daily>: 09:00:00"
    assert names["fct_d"].schedule.describe() == "daily>: 03:00:00"  # config default
    assert names["fct_e"].schedule is None  # meta wins, even to unschedule
    assert names["fct_c"].timezone == "Asia/Tokyo"
    assert plan.unscheduled == 1


def test_hourly_reader_of_daily_requires_start_of_day(tmp_path: Path) -> None:
    plan = plan_of(tmp_path,
                   node("daily", meta={**DAILY, "timezone": "Asia/Tokyo"}),
                   node("hourly", deps=("model.shop.daily",), meta={**HOURLY, "timezone": "Asia/Tokyo"}))
    (req,) = by_name(plan)["hourly"].requires
    assert req.required.kind == "computed" and req.required.most == 1
    assert req.required.need.first == (("tz", "Asia/Tokyo"), ("floor", "day", 1, 0, 1, 0))


def test_unaligned_pairs_warn_or_fail_by_policy(tmp_path: Path) -> None:
    nodes = (node("up", meta={"schedule": {"cron>": "0 9,18 * * *"}}),
             node("down", deps=("model.shop.up",), meta=DAILY))
    plan = plan_of(tmp_path, *nodes)
    assert by_name(plan)["down"].requires == ()
    assert any("share no regular grid" in w and "no require> added" in w for w in plan.warnings)
    with pytest.raises(ScheduleError, match=r"requires\.unaligned: error"):
        plan_of(tmp_path, *nodes, config={"requires": {"unaligned": "error"}})


def test_unsafe_workflow_names_are_cleaned_stably(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, node("orders", meta={"workflow": "2024 sales-report"}))
    (workflow,) = plan.workflows
    assert workflow.name.startswith("w_2024_sales_report_")
    assert workflow.slug.startswith("w-2024-sales-report")


def test_names_that_clean_alike_stay_distinct(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, node("a", meta={"workflow": "x-y"}), node("b", meta={"workflow": "x.y"}))
    assert len({w.name for w in plan.workflows}) == 2


def test_config_rejects_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "gen.yml"
    path.write_text("timezone: UTC\nschedul: {}\n")
    with pytest.raises(ConfigError, match=r"gen.yml: unknown key schedul"):
        load_config(path, required=True)
    path.write_text("rules:\n  - match: {tags: x}\n")
    with pytest.raises(ConfigError, match=r"unknown key rules\[0\].match.tags"):
        load_config(path, required=True)
    path.write_text("timezone: [\n")
    with pytest.raises(ConfigError, match="invalid YAML at line"):
        load_config(path, required=True)


@pytest.mark.compat
@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.name)
def test_every_fixture_plans(path: Path) -> None:
    plan = plan_workflows(load_manifest(path), parse_config({"schedule": {"daily>": "01:00:00"}}, where="x"))
    assert plan.workflows
    for workflow in plan.workflows:
        assert all(s for s in workflow.selects)


def test_duplicate_workflow_name_clash_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="both become"):
        plan_of(tmp_path, node("a", meta={"workflow": "x y"}),
                node("b", meta={"workflow": "x_y_" + __import__("gen.naming").naming.short_hash("x y")}))


# --- fan-in: no attempt passes Digdag's task limit ----------------------------------------------------

from gen.fanin import attempt_tasks  # noqa: E402


def test_a_daily_reader_of_many_hourly_tables_requires_completion_workflows(tmp_path: Path) -> None:
    hourly = [node(f"h{i:02d}", meta={**HOURLY, "timezone": "UTC"}) for i in range(42)]
    reader = node("daily_report", deps=tuple(n["unique_id"] for n in hourly),
                  meta={**DAILY, "timezone": "UTC", "window": "previous"})
    plan = plan_of(tmp_path, *hourly, reader)
    by = by_name(plan)
    assert attempt_tasks(by["daily_report"]) == 3 + 42  # was 3 + 42 * 26 = 1095 > 1000
    assert all(r.required.kind == "same" for r in by["daily_report"].requires)
    helper = by["h00__daily_sessions_utc_previous"]
    assert helper.selects == () and helper.schedule is None and helper.upstreams == ("h00",)
    assert helper.requires[0].required.most == 24 and attempt_tasks(helper) == 29
    assert all(attempt_tasks(w) <= 1000 for w in plan.workflows)
    small = plan_of(tmp_path, *hourly[:3], node("r", deps=tuple(n["unique_id"] for n in hourly[:3]),
                                                   meta={**DAILY, "window": "previous"}))
    assert len(small.workflows) == 4  # under the limit nothing changes


def test_a_reader_needing_more_sessions_than_one_attempt_holds_is_refused(tmp_path: Path) -> None:
    up = node("every_minute", meta={"schedule": {"minutes_interval>": 1}})
    reader = node("daily", deps=("model.shop.every_minute",), meta={**DAILY, "window": "previous"})
    with pytest.raises(PlanError, match=r"requires 1440 sessions of 'every_minute', more than max_attempt_tasks \(1000"):
        plan_of(tmp_path, up, reader)


def test_a_reader_whose_whole_window_lies_after_its_run_requires_nothing_and_is_warned(tmp_path: Path) -> None:
    """A current-window daily reader of a previous-window daily table would need tomorrow's session, which
    has not started when the reader runs: no require> (never a future session), and a warning."""
    plan = plan_of(tmp_path, node("up", meta={**DAILY, "window": "previous"}),
                   node("down", deps=("model.shop.up",), meta={"schedule": {"daily>": "08:00:00"}}))
    assert by_name(plan)["down"].requires == ()
    assert any("'down'" in w and "all of its window lies after its run time" in w for w in plan.warnings)
