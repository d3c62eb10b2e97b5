"""Hostile text in every manifest field: it reaches dbt exactly or is refused with a clear error, and it
never changes the structure of a .dig file. Plus a fuzz run over mutated real manifests."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gen.config import parse_config
from gen.errors import GenError
from gen.manifest import load_manifest
from gen.plan import plan_workflows
from gen.render import render_tree
from tests.conftest import FIXTURES, manifest_dict, node
from tests.digload import dbt_env, load

NASTY = ["'", '"', "\\", "${1+1}", "$", "`id`", "#", ": ", "\n", "\r", "*x", "&a", "!tag", "%", "@", "日本語",
         "\u2028", "\u0085", "$$", "${secret:k}", "{{ x }}", "-", "?", "|", ">", "\t", "é", "🚀"]
hostile_text = st.lists(st.sampled_from(NASTY) | st.text(min_size=1, max_size=5), min_size=1, max_size=8).map("".join)


def render(tmp: Path, nodes: list[dict[str, Any]], config: dict[str, Any]) -> dict[str, str]:
    path = tmp / "manifest.json"
    path.write_text(json.dumps(manifest_dict(*nodes)), encoding="utf-8")
    return render_tree(plan_workflows(load_manifest(path), parse_config(config, where="gen.yml")))


def decoded_env(tree: dict[str, str], rel: str, folder: Path) -> dict[str, Any]:
    """Parse a .dig the way Digdag's YAML does (includes merged), and decode what the script receives."""
    for path, text in tree.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text, encoding="utf-8")
    doc = load(folder / rel)
    env = dbt_env(folder, rel[:-4])
    return {"doc": doc, "selects": json.loads(env["GEN_SELECTS"]), "vars": json.loads(env["GEN_VARS"]),
            "exported": doc["_export"], "text": tree[rel]}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=hostile_text, workflow=hostile_text, tag=hostile_text, var_key=hostile_text, var_value=hostile_text)
def test_hostile_values_never_change_the_structure(tmp_path: Path, name: str, workflow: str, tag: str,
                                                   var_key: str, var_value: str) -> None:
    nodes = [node(name, tags=(tag,), meta={"workflow": workflow, "schedule": {"daily>": "01:00:00"}}),
             node("reader", deps=(f"model.shop.{name}",), meta={"schedule": {"hourly>": "05:00"}})]
    try:
        tree = render(tmp_path, nodes, {"dbt": {"vars": {var_key: var_value}}})
    except GenError as e:  # refusing is allowed, with a one-line message
        assert "\n" not in str(e)
        return
    digs = {k: v for k, v in tree.items() if k.endswith(".dig")}
    assert len(digs) == 2
    folder = tmp_path / "p"
    for rel in digs:
        assert "/" not in rel and not rel[0].isdigit()
        parsed = decoded_env(tree, rel, folder)
        doc = parsed["doc"]
        # nothing was added: the same keys and tasks as any generated workflow
        assert set(doc) <= {"timezone", "schedule", "+require", "+dbt_build", "_export"}
        assert set(doc["+dbt_build"]) == {"sh>", "_env"}
        assert doc["+dbt_build"]["sh>"] == "bash scripts/run-dbt.sh"
        assert parsed["vars"] == {var_key: var_value}
        # Digdag evaluates ${...} in every string it reads, exported parameters included: no user text may
        # carry a `$` into a file
        for key in ("gen_selects", "gen_vars", "gen_workflow", "gen_job_slug"):
            assert "$" not in parsed["exported"][key]
    writer = next(decoded_env(tree, r, folder) for r in digs if "reader" not in r)
    assert writer["selects"] == [name]  # reaches dbt exactly as written


MUTATIONS = ["drop_key", "wrong_type", "null", "dangle", "cycle", "huge_string", "unicode"]


def mutate(data: Any, rng: random.Random) -> None:
    nodes = data["nodes"]
    uid = rng.choice(sorted(nodes))
    target = nodes[uid]
    kind = rng.choice(MUTATIONS)
    if kind == "drop_key":
        target.pop(rng.choice(sorted(target)), None)
    elif kind == "wrong_type":
        target[rng.choice(sorted(target))] = rng.choice([1, [], {}, True, "x"])
    elif kind == "null":
        target[rng.choice(sorted(target))] = None
    elif kind == "dangle":
        target.setdefault("depends_on", {}).setdefault("nodes", []).append("model.nowhere.ghost")
    elif kind == "cycle":
        other = rng.choice(sorted(nodes))
        target.setdefault("depends_on", {"nodes": []}).setdefault("nodes", []).append(other)
        nodes[other].setdefault("depends_on", {"nodes": []}).setdefault("nodes", []).append(uid)
    elif kind == "huge_string":
        target["name"] = "x" * 100_000
    else:
        target.setdefault("config", {})["meta"] = {"digdag": {"workflow": "ワークフロー\u2028${x}"}}


@pytest.mark.compat
@pytest.mark.parametrize("seed", range(40))
def test_fuzzed_fixture_manifests_never_crash(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    source = sorted(FIXTURES.glob("*.json"))[seed % 12]
    data = json.loads(source.read_text())
    for _ in range(rng.randint(1, 4)):
        mutate(data, rng)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    try:
        tree = render_tree(plan_workflows(load_manifest(path), parse_config({}, where="gen.yml")))
    except GenError as e:
        assert "\n" not in str(e) and str(e)
        return
    assert all(isinstance(text, str) for text in tree.values())


def test_fusion_style_manifest(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest_dict(node("orders"), schema=20)))
    manifest = load_manifest(path)
    assert manifest.warnings and "v20" in manifest.warnings[0]
    assert render_tree(plan_workflows(manifest, parse_config({}, where="gen.yml")))


def test_a_very_large_manifest_streams_from_disk(tmp_path: Path) -> None:
    """Not 1 GB in the suite (bench/ covers size), but padding far beyond the nodes is never a problem."""
    data = manifest_dict(node("orders"))
    data["macros"] = {f"macro.x.m{i}": {"macro_sql": "x" * 10_000} for i in range(3_000)}  # ~30 MB ignored
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    assert [n for n in load_manifest(path).nodes] == ["model.shop.orders"]
