"""Loading real manifests of every schema, and rejecting broken ones with one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gen.errors import ManifestError
from gen.manifest import load_manifest
from tests.conftest import FIXTURES, manifest_dict, node

FIXTURE_FILES = sorted(FIXTURES.glob("*.json"))


@pytest.mark.compat
def test_fixtures_are_present() -> None:
    assert len(FIXTURE_FILES) >= 12, f"expected the shared fixture manifests in {FIXTURES}"


@pytest.mark.compat
@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_every_fixture_loads(path: Path) -> None:
    manifest = load_manifest(path)
    assert manifest.project_name == "jaffle_shop"  # v4-v9 name it only through md5 in project_id
    assert 4 <= manifest.schema_version <= 12
    models = [n for n in manifest.nodes.values() if n.resource_type == "model" and n.package == "jaffle_shop"]
    assert models
    assert all("\\" not in n.file for n in manifest.nodes.values())


@pytest.mark.compat
@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_every_fixture_loads_with_its_code_in_the_same_decoding(path: Path) -> None:
    """gen lint decodes once, with the code: the nodes are those gen workflows reads, plus the code."""
    plain, with_code = load_manifest(path), load_manifest(path, code=True)
    assert with_code.nodes == plain.nodes and not plain.code
    assert {u for u, c in with_code.code.items() if c.resource_type != "macro"} == {
        u for u, n in plain.nodes.items() if n.resource_type != "source"}
    models = [c for c in with_code.code.values() if c.resource_type == "model" and c.package == "jaffle_shop"]
    assert models and all(c.raw_code for c in models)
    assert any(c.resource_type == "macro" and c.raw_code for c in with_code.code.values())


@pytest.mark.compat
def test_versioned_models_keep_their_version() -> None:
    manifest = load_manifest(FIXTURES / "cosmos_v10_model_version.json")
    versions = {n.unique_id: n.version for n in manifest.nodes.values() if n.version is not None}
    assert versions["model.jaffle_shop.customers.v1"] == "1"
    assert manifest.nodes["model.jaffle_shop.customers.v1"].label == "customers.v1"


def test_null_macro_dependencies_and_missing_seed_dependencies(tmp_path: Path) -> None:
    seed = node("countries", resource_type="seed")
    del seed["depends_on"]
    model = node("orders", deps=("seed.shop.countries",))
    model["depends_on"]["macros"] = [None]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest_dict(seed, model)))
    manifest = load_manifest(path)
    assert manifest.nodes["model.shop.orders"].depends_on == ("seed.shop.countries",)


def test_meta_digdag_from_config_and_properties(tmp_path: Path) -> None:
    model = node("orders", config_meta={"digdag": {"schedule": {"daily>": "01:00:00"}}})
    model["meta"] = {"digdag": {"workflow": "sales", "schedule": {"hourly>": "10:00"}}}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest_dict(model)))
    digdag = load_manifest(path).nodes["model.shop.orders"].digdag
    assert digdag == {"workflow": "sales", "schedule": {"daily>": "01:00:00"}}  # config.meta wins


def test_digest_ignores_timestamps(tmp_path: Path) -> None:
    data = manifest_dict(node("orders"))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(data))
    data["metadata"]["generated_at"] = "2030-01-01T00:00:00Z"
    data["metadata"]["invocation_id"] = "other"
    b.write_text(json.dumps(data))
    assert load_manifest(a).digest == load_manifest(b).digest


@pytest.mark.parametrize(("content", "message"), [
    (b"", "the file is empty"),
    (b'{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json"}, "nodes": {',
     "not valid JSON"),
    (b"[1, 2, 3]", "the top level must be a JSON object"),
    (b'{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json"}}',
     "it has no `nodes` object"),
    (b'{"nodes": {}}', "it has no `metadata` object"),
    (b'{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json"}, "nodes": []}',
     "Expected `object`, got `array` - at `$.nodes`"),
    (b'{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v3.json"}, "nodes": {}}',
     "older than v4"),
    (b'{"metadata": {"dbt_schema_version": "something"}, "nodes": {}}', "unknown manifest schema"),
    (b'\xff\xfe garbage', "not valid JSON"),
])
def test_bad_manifests_give_one_line_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(content)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    text = str(info.value)
    assert text.startswith(str(path) + ": ")
    assert message in text
    assert "\n" not in text


def test_wrong_types_name_the_field(tmp_path: Path) -> None:
    data = manifest_dict(node("orders"))
    data["nodes"]["model.shop.orders"]["name"] = 42
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match=r"node model\.shop\.orders \(models/orders\.sql\): Expected `str`, got `int` - at `\$\.name`"):
        load_manifest(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file; run `dbt parse` first"):
        load_manifest(tmp_path / "nope.json")
    with pytest.raises(ManifestError, match="is a directory"):
        load_manifest(tmp_path)


def test_newer_schema_loads_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest_dict(node("orders"), schema=20)))
    manifest = load_manifest(path)
    assert manifest.schema_version == 20
    assert any("newer than v12" in w for w in manifest.warnings)


def test_a_null_in_a_field_gen_does_not_need_is_not_set(tmp_path: Path) -> None:
    """dbt Fusion writes `config.enabled: null`; a dbt 1.10 test can list a null macro."""
    data = manifest_dict(node("a"), node("b", deps=("model.shop.a",)))
    data["nodes"]["model.shop.a"]["config"]["enabled"] = None
    data["nodes"]["model.shop.b"]["depends_on"]["macros"] = [None, "macro.dbt.x"]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    manifest = load_manifest(path)
    assert manifest.nodes["model.shop.a"].enabled
    assert load_manifest(path, code=True).code["model.shop.b"].macros == ("macro.dbt.x",)


def test_a_bad_node_is_named_with_its_file(tmp_path: Path) -> None:
    data = manifest_dict(node("a"), node("b"))
    data["nodes"]["model.shop.b"]["name"] = None
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match=r"node model\.shop\.b \(models/b\.sql\): Expected `str`, got `null` - at `\$\.name`"):
        load_manifest(path)


def test_a_project_name_that_names_no_package_is_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest_dict(node("a"))))
    manifest = load_manifest(path, project_name="shopp")
    assert any("--project-name 'shopp' is no package of this manifest" in w and "packages: shop" in w
               for w in manifest.warnings)
    assert not load_manifest(path, project_name="shop").warnings
