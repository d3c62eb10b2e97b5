"""Coverage: every enabled model, seed and snapshot is built by exactly one workflow, judged by what each
select list selects. gen's selector semantics are checked against `dbt ls` (dbt-core) on the example
project and on the fixture manifests dbt-core 1.11 can still read (schemas v10-v12); the older
fixtures (v4-v9) are checked with gen's own selector only."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace as replace_struct

from gen.config import parse_config
from gen.coverage import check_coverage, coverage_lines, expected_nodes, workflow_selection
from gen.errors import PlanError
from gen.ir import Plan
from gen.manifest import Manifest, load_manifest
from gen.plan import plan_workflows
from gen.selection import select_nodes
from tests.conftest import FIXTURES, dbt_invoke, manifest_dict, node

DAILY = {"schedule": {"daily>": "07:00:00"}}


def load(tmp_path: Path, *nodes: dict[str, Any], **kw: Any) -> Manifest:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest_dict(*nodes, **kw)))
    return load_manifest(path)


def plan_for(manifest: Manifest, config: dict[str, Any] | None = None) -> Plan:
    return plan_workflows(manifest, parse_config(config or {}, where="gen.yml"))


def in_folder(n: dict[str, Any], *folders: str) -> dict[str, Any]:
    """Give a factory node the fqn dbt gives a model in models/<folders>/."""
    n["fqn"] = [n["package_name"], *folders, *n["fqn"][1:]]
    return n


def with_selects(plan: Plan, **selects: tuple[str, ...]) -> Plan:
    """The plan with some workflows' select lists replaced (what a template or plan bug would do)."""
    return replace(plan, workflows=tuple(replace_struct(w, selects=selects.get(w.name, w.selects))
                                         for w in plan.workflows))


# --- gen's reading of dbt selectors ---------------------------------------------------------------


def test_selectors_follow_dbt_fqn_rules(tmp_path: Path) -> None:
    manifest = load(
        tmp_path,
        in_folder(node("orders"), "marts"),
        in_folder(node("fct", version=1), "marts"),
        in_folder(node("fct", version=2), "marts"),
        node("orders", package="other"),
        node("not_null_orders_id", resource_type="test", deps=("model.shop.orders",)),
        sources=("orders",))
    assert select_nodes(manifest, "fct.v1") == {"model.shop.fct.v1"}
    assert select_nodes(manifest, "fct_v2") == {"model.shop.fct.v2"}  # either separator, as dbt allows
    assert select_nodes(manifest, "fct") == {"model.shop.fct.v1", "model.shop.fct.v2"}
    assert select_nodes(manifest, "orders") == {"model.shop.orders", "model.other.orders"}
    assert select_nodes(manifest, "package:shop,orders") == {"model.shop.orders"}
    assert select_nodes(manifest, "package:this,orders") == {"model.shop.orders"}
    # a bare name is also a folder or package prefix: this is what makes a select pick too much
    assert select_nodes(manifest, "marts") == {"model.shop.orders", "model.shop.fct.v1", "model.shop.fct.v2"}
    assert select_nodes(manifest, "shop.marts.orders") == {"model.shop.orders"}
    assert select_nodes(manifest, "fct*") == {"model.shop.fct.v1", "model.shop.fct.v2"}
    assert select_nodes(manifest, "nothing") == frozenset()
    with pytest.raises(PlanError, match="graph operators"):
        select_nodes(manifest, "+orders")
    with pytest.raises(PlanError, match="method 'path' is not supported"):
        select_nodes(manifest, "models/orders.sql")


# --- the check ------------------------------------------------------------------------------------


def test_a_plain_project_is_covered_and_says_so(tmp_path: Path) -> None:
    manifest = load(
        tmp_path,
        node("stg_orders", materialized="view", meta=DAILY),
        node("int_orders", materialized="ephemeral", deps=("model.shop.stg_orders",)),
        node("fct_orders", version=1, deps=("model.shop.int_orders",)),
        node("fct_orders", version=2, deps=("model.shop.int_orders",)),
        node("countries", resource_type="seed"),
        node("orders_snapshot", resource_type="snapshot"),
        node("a", meta={"workflow": "marts"}), node("b", meta={"workflow": "marts"}),
        node("hidden", meta={"enabled": False}),
        node("old", enabled=False),
        node("pkg_model", package="utils"),
    )
    plan = plan_for(manifest)
    coverage = check_coverage(manifest, plan)
    assert coverage.ok, coverage.gaps
    # ephemeral, disabled, left-out and package nodes are not expected
    assert set(coverage.expected) == {
        "model.shop.stg_orders", "model.shop.fct_orders.v1", "model.shop.fct_orders.v2",
        "seed.shop.countries",
        "snapshot.shop.orders_snapshot", "model.shop.a", "model.shop.b"}
    assert coverage.built_by["model.shop.a"] == ("marts",)
    assert coverage_lines(coverage) == [
        "coverage: all 7 models, seeds and snapshots are built by exactly one workflow; 1 left out by "
        "meta.digdag.enabled: false"]


def test_included_packages_are_expected_too(tmp_path: Path) -> None:
    manifest = load(tmp_path, node("orders"), node("pkg_model", package="utils"))
    plan = plan_for(manifest, {"include_packages": ["utils"]})
    assert check_coverage(manifest, plan, include_packages=["utils"]).ok
    assert "model.utils.pkg_model" in expected_nodes(manifest, plan, include_packages=["utils"])
    # the package's workflow builds a node the root-only check does not expect
    gaps = check_coverage(manifest, plan).gaps
    assert [(g.kind, g.node) for g in gaps] == [("unexpected", "model.utils.pkg_model")]


def test_a_model_named_like_its_folder_selects_the_whole_folder(tmp_path: Path) -> None:
    manifest = load(tmp_path, in_folder(node("marts"), "marts"), in_folder(node("fct_orders"), "marts"),
                    in_folder(node("dim_customers"), "marts"))
    coverage = check_coverage(manifest, plan_for(manifest))
    assert [(g.kind, g.label, g.workflows) for g in coverage.gaps] == [
        ("twice", "dim_customers", ("dim_customers", "marts")),
        ("twice", "fct_orders", ("fct_orders", "marts")),
    ]
    assert coverage_lines(coverage)[0] == (
        "coverage: twice: dim_customers (model.shop.dim_customers) is built by 2 workflows: "
        "dim_customers, marts")


def test_missed_empty_misplaced_and_unexpected_gaps(tmp_path: Path) -> None:
    manifest = load(tmp_path, node("a"), node("b"), node("c"), node("hidden", meta={"enabled": False}))
    plan = plan_for(manifest)
    broken = with_selects(plan, a=("a_typo",), b=("c",), c=("b", "hidden"))
    gaps = {(g.kind, g.label): g for g in check_coverage(manifest, broken).gaps}
    assert set(gaps) == {("missed", "a"), ("empty", "a_typo"), ("misplaced", "b"), ("misplaced", "c"),
                         ("unexpected", "hidden")}
    assert gaps[("misplaced", "b")].describe() == "b (model.shop.b) is planned in b but built by c"
    assert gaps[("empty", "a_typo")].describe() == (
        "select 'a_typo' of workflow a builds no model, seed or snapshot")
    assert gaps[("missed", "a")].describe() == "a (model.shop.a) is built by no workflow"
    assert "left out" in gaps[("unexpected", "hidden")].describe()


@pytest.mark.compat
@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.name)
def test_every_fixture_manifest_is_covered(path: Path) -> None:
    manifest = load_manifest(path)
    plan = plan_for(manifest, {"schedule": {"daily>": "01:00:00"}})
    coverage = check_coverage(manifest, plan)
    assert coverage.ok, coverage_lines(coverage)
    assert coverage.expected  # the check looked at something


# --- against dbt itself ---------------------------------------------------------------------------


def dbt_ls(project: Path, selects: tuple[str, ...], dbt_manifest: Any) -> set[str]:
    """What `dbt ls --select ...` lists (models, seeds, snapshots), as unique ids."""
    result = dbt_invoke(["ls", "--resource-type", "model", "--resource-type", "seed", "--resource-type",
                         "snapshot", "--select", *selects, "--output", "json", "--output-keys", "unique_id"],
                        project, manifest=dbt_manifest)
    return {json.loads(line)["unique_id"] for line in result.result}


def load_dbt_manifest(path: Path) -> Any:
    from dbt.contracts.graph.manifest import Manifest as DbtManifest
    from dbt.contracts.graph.manifest import WritableManifest

    return DbtManifest.from_writable_manifest(WritableManifest.read_and_check_versions(str(path)))


def assert_selection_matches_dbt(project: Path, manifest_path: Path, config: dict[str, Any]) -> None:
    manifest = load_manifest(manifest_path)
    plan = plan_for(manifest, config)
    dbt_manifest = load_dbt_manifest(manifest_path)
    union: set[str] = set()
    for workflow in plan.workflows:
        built = {u for u in dbt_ls(project, workflow.selects, dbt_manifest)
                 if manifest.nodes[u].materialized != "ephemeral"}
        ours = set().union(*workflow_selection(manifest, workflow.selects).values())
        assert built == ours == set(workflow.node_ids), workflow.name
        assert not built & union, f"{workflow.name} builds a node another workflow builds"
        union |= built
    assert union == set(expected_nodes(manifest, plan))
    assert check_coverage(manifest, plan).ok


@pytest.mark.dbt
def test_example_select_lists_match_dbt_ls(parsed_shop: Path) -> None:
    from gen.config import load_config

    config = load_config(parsed_shop / "gen.yml", required=True)
    manifest_path = parsed_shop / "target" / "manifest.json"
    manifest = load_manifest(manifest_path)
    plan = plan_workflows(manifest, config)
    dbt_manifest = load_dbt_manifest(manifest_path)
    union: set[str] = set()
    for workflow in plan.workflows:
        built = dbt_ls(parsed_shop, workflow.selects, dbt_manifest)
        assert built == set(workflow.node_ids), workflow.name
        assert not built & union
        union |= built
    assert union == set(expected_nodes(manifest, plan)) == {u for w in plan.workflows for u in w.node_ids}
    assert "model.shop.mart_legacy_report" in plan.excluded and "model.shop.mart_legacy_report" not in union
    assert check_coverage(manifest, plan).ok


DBT_READABLE = ["dap_v12_jaffle_1.10.json", "dap_v12_jaffle_1.8.json", "dap_v11_jaffle.json",
                "cosmos_v10_model_version.json"]


@pytest.mark.compat
@pytest.mark.dbt
@pytest.mark.parametrize("name", DBT_READABLE)
def test_fixture_select_lists_match_dbt_ls(name: str, tmp_path: Path) -> None:
    path = FIXTURES / name
    project_name = json.loads(path.read_text())["metadata"]["project_name"]
    # dbt ls needs a project and a profile around the manifest; the manifest itself is handed over loaded.
    (tmp_path / "dbt_project.yml").write_text(
        f"name: {project_name}\nversion: '1.0.0'\nconfig-version: 2\nprofile: stub\n")
    (tmp_path / "profiles.yml").write_text(
        "stub:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: ':memory:'}\n")
    assert_selection_matches_dbt(tmp_path, path, {"schedule": {"daily>": "01:00:00"}})


def _scan(manifest, selector: str) -> frozenset[str]:  # type: ignore[no-untyped-def]
    """What select_nodes computed before the index: every criterion tested against every node."""
    from gen.selection import _matches
    return frozenset(uid for uid, n in manifest.nodes.items() if n.resource_type != "source" and n.enabled
                     and all(_matches(c, n, manifest.project_name, selector) for c in selector.split(",")))


def test_the_selector_index_selects_exactly_what_a_scan_selects(tmp_path: Path) -> None:
    from gen.selection import Selector
    manifest = load(
        tmp_path,
        in_folder(node("orders", tags=("daily", "pii")), "marts"),
        in_folder(node("fct", version=1), "marts", "core"),
        in_folder(node("fct", version=2), "marts", "core"),
        in_folder(node("fct_v2"), "staging"),
        in_folder(node("marts"), "marts"),
        node("orders", package="other"),
        node("shop"),
        node("seed_a", resource_type="seed"),
        node("not_null_orders_id", resource_type="test", deps=("model.shop.orders",)),
    )
    words = ["orders", "fct", "fct.v1", "fct_v1", "fct.v2", "fct_v2", "marts", "marts.core", "shop", "shop.marts",
             "shop.marts.orders", "marts.core.fct", "core.fct.v2", "other", "seed_a", "nothing", "fct*", "*orders",
             "marts.*", "package:shop", "package:this", "package:other", "tag:daily", "tag:pi*", "resource_type:seed",
             "resource_type:test", "fqn:shop.marts", "package:shop,orders", "tag:daily,orders", "marts,fct_v2"]
    index = Selector(manifest)
    for selector in words:
        assert index.select(selector) == _scan(manifest, selector), selector
