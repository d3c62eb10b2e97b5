"""The shortcuts that make large projects fast give exactly what the plain ways give."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gen import output
from gen.config import parse_config
from gen.errors import CycleError, OutputError
from gen.graph import check_workflow_cycles
from gen.manifest import load_manifest
from gen.settings import resolve_settings, rule_matches, settings_resolver
from gen.zones import offset_table
from tests.conftest import FIXTURES, manifest_dict, node


def _sampled_offset_table(zone: str) -> tuple[int, tuple[tuple[int, int], ...]]:
    """offset_table as first written: every 6 hours from 1990 to 2070, bisecting each change."""
    tz = ZoneInfo(zone)

    def offset(ms: int) -> int:
        off = datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz).utcoffset()
        return int(off.total_seconds() // 60) if off is not None else 0

    start = int(datetime(1990, 1, 1, tzinfo=UTC).timestamp() * 1000)
    stop = int(datetime(2070, 1, 1, tzinfo=UTC).timestamp() * 1000)
    first, changes, prev, cur = offset(start), [], offset(start), start
    while cur < stop:
        nxt = cur + 6 * 3_600_000
        off = offset(nxt)
        if off != prev:
            lo, hi = cur, nxt
            while hi - lo > 60_000:
                mid = (lo + hi) // 2 // 60_000 * 60_000
                if mid <= lo:
                    break
                lo, hi = (mid, hi) if offset(mid) == prev else (lo, mid)
            changes.append((hi, off))
            prev = off
        cur = nxt
    return first, tuple(changes)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "Asia/Kolkata", "Etc/GMT+5", "America/New_York",
                                  "Africa/Casablanca", "Australia/Lord_Howe", "Pacific/Apia", "Asia/Kathmandu",
                                  "Europe/Dublin", "America/Caracas", "Asia/Pyongyang", "America/Sao_Paulo",
                                  "Asia/Gaza", "America/Noronha"])
def test_offset_tables_match_the_plain_scan(zone: str) -> None:
    # (checked for every zone of the tz database when the shortcuts were written)
    assert offset_table(zone) == _sampled_offset_table(zone)


@pytest.mark.compat
def test_digest_is_the_one_computed_from_sorted_rows() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        manifest = load_manifest(path)
        rows = sorted(
            (n.unique_id, n.resource_type, n.name, n.package, n.file, n.patch_file, list(n.fqn), n.materialized,
             n.enabled, list(n.tags), n.digdag, list(n.depends_on), n.version, n.latest_version)
            for n in manifest.nodes.values())
        assert manifest.digest == hashlib.sha256(msgspec.json.encode(rows, order="sorted")).hexdigest(), path


names = st.text(alphabet="abcdef", min_size=1, max_size=3)


@settings(max_examples=200, deadline=None)
@given(edges=st.dictionaries(names, st.sets(names, max_size=4), max_size=12), extra=st.sets(names, max_size=6))
def test_workflow_cycles_match_networkx(edges: dict[str, set[str]], extra: set[str]) -> None:
    edges = {reader: {u for u in upstreams if u != reader} for reader, upstreams in edges.items()}
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted(extra))
    for reader, upstreams in edges.items():
        for upstream in upstreams:
            graph.add_edge(upstream, reader)
    if nx.is_directed_acyclic_graph(graph):
        check_workflow_cycles(edges, sorted(extra), source="m")  # no error
    else:
        cycle = nx.find_cycle(graph)
        path = " -> ".join([edge[0] for edge in cycle] + [cycle[-1][1]])
        with pytest.raises(CycleError, match=f"cycle: {path};"):
            check_workflow_cycles(edges, sorted(extra), source="m")


def test_settings_for_many_nodes_match_one_by_one(tmp_path: Path) -> None:
    nodes = [node(f"m{i}", meta={"schedule": {"daily>": "01:00:00"}} if i % 3 == 0 else None,
                  tags=("nightly",) if i % 4 == 0 else (), package="shop" if i % 5 else "utils",
                  resource_type="seed" if i % 7 == 0 else "model",
                  path=f"models/{'marts/finance' if i % 2 else 'marts/finance_old'}/m{i}.sql" if i % 6 else None)
             for i in range(40)]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest_dict(*nodes)))
    manifest = load_manifest(path)
    rules = [{"match": {"tag": "nightly"}, "namespace": "night"},
             {"match": {"folder": "models/marts/finance/"}, "timeout_seconds": 60},
             {"match": {"path": "models/*/finance_old/*.sql", "name": ["m1*", "m2?"]}, "namespace": "old"},
             {"match": {"resource_type": "seed", "package": "utils"}, "enabled": False}]
    config = parse_config({"timezone": "Asia/Tokyo", "window": "previous", "rules": rules}, where="gen.yml")
    resolve = settings_resolver(config, root_project="shop")
    outcomes = set()
    for n in manifest.nodes.values():
        assert resolve(n) == resolve_settings(n, config, root_project="shop")
        outcomes.add(tuple(rule_matches(rule, n) for rule in config.rules))
    assert len(outcomes) >= 6  # the rules match different nodes, each alone and together


def test_each_match_criterion_of_a_rule(tmp_path: Path) -> None:
    nodes = [node("a", tags=("nightly",), path="models/marts/finance/a.sql"),
             node("b", path="models/marts/finance_old/b.sql"),
             node("c", resource_type="seed", package="utils")]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest_dict(*nodes)))
    manifest = load_manifest(path)
    config = parse_config({"rules": [
        {"match": {"tag": ["nightly", "hourly"]}, "namespace": "x"},
        {"match": {"folder": "models/marts/finance/"}, "namespace": "x"},  # b's folder only starts alike
        {"match": {"path": "models/*/finance_old/*.sql"}, "namespace": "x"},
        {"match": {"name": ["a", "c*"]}, "namespace": "x"},
        {"match": {"resource_type": "seed", "package": "utils"}, "namespace": "x"},
        {"match": {"resource_type": "seed", "package": "shop"}, "namespace": "x"},
    ]}, where="gen.yml")
    table = {n.name: [rule_matches(rule, n) for rule in config.rules] for n in manifest.nodes.values()}
    assert table == {"a": [True, True, False, True, False, False],
                     "b": [False, False, True, False, False, False],
                     "c": [False, False, False, True, True, False]}


H = "# Generated by gen 0.1.0 (manifest abc). Do not edit.\n"


def test_many_files_are_staged_in_folders_and_synced_once(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    synced = []
    real = output._syncfs()
    if real is None:
        pytest.skip("no syncfs on this platform")
    monkeypatch.setattr(output, "_SYNCFS", [lambda folder: (synced.append(folder), real(folder))])
    monkeypatch.setattr(output.os, "fsync", lambda fd: pytest.fail("fsync per file"))
    tree = {f"w{i:04d}.dig": H + f"{i}\n" for i in range(1200)} | {"scripts/run.sh": H + "x\n"}
    out = tmp_path / "out"
    changes = output.apply_tree(tree, out)
    assert len(changes.created) == 1201 and len(synced) == 1
    assert {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*") if p.is_file()} == tree
    assert os.stat(out / "scripts" / "run.sh").st_mode & 0o777 == 0o755
    assert os.stat(out / "w0001.dig").st_mode & 0o777 == 0o644
    assert not list(tmp_path.glob(".out.gen-staging*"))


class _SlowTree(dict):  # type: ignore[type-arg]
    """A tree whose files take a while to render, as a large project's do."""

    def __getitem__(self, rel: str) -> str:
        time.sleep(0.002)
        return str(super().__getitem__(rel))


def test_an_update_of_one_file_syncs_the_file_system_once_at_most(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tree = {f"w{i:03d}.dig": H + f"{i}\n" for i in range(300)}
    output.apply_tree(tree, tmp_path / "out")
    calls: list[Path] = []
    monkeypatch.setattr(output, "_SYNCFS", [calls.append])
    changes = output.apply_tree(_SlowTree({**tree, "w007.dig": H + "changed\n"}), tmp_path / "out")
    assert changes.updated == ("w007.dig",)
    # One staged file is made durable by its own fsync: no sync of the whole file system.
    assert calls == []
    assert (tmp_path / "out" / "w007.dig").read_text() == H + "changed\n"


def test_a_failing_sync_leaves_out_as_it_was(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[Path] = []

    def syncfs(folder: Path) -> None:
        calls.append(folder)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(output, "_SYNCFS", [syncfs])
    tree = _SlowTree({f"w{i:03d}.dig": H + f"{i}\n" for i in range(100)})
    with pytest.raises(OutputError, match=r"cannot stage the new files \(Input/output error\); out/ was left"):
        output.apply_tree(tree, tmp_path / "out")
    assert len(calls) == 1
    assert not list((tmp_path / "out").rglob("*"))
    assert not list(tmp_path.glob(".out.gen-staging*"))


def test_a_file_of_another_size_is_compared_by_its_head_only(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "ours.dig").write_text(H + "old and longer\n")
    (out / "theirs.dig").write_text("hand written\n" * 100)
    (out / "same.dig").write_text(H + "1\n")
    (out / "link.dig").symlink_to(out / "same.dig")
    changes = output.compare_tree({"ours.dig": H + "new\n", "theirs.dig": H, "same.dig": H + "2\n",
                                   "link.dig": H + "1\n"}, out)
    assert changes.updated == ("ours.dig", "theirs.dig", "same.dig", "link.dig")
    assert changes.blocked == ("theirs.dig", "link.dig")
    assert output.compare_tree({"link.dig": ""}, out).blocked == ()
