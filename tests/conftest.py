"""Factories for small manifests and helpers shared by the tests."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO.parent / "shared" / "fixtures" / "manifests"
EXAMPLE = REPO / "examples" / "shop"
TOOLS_BIN = Path(os.environ.get("GEN_TOOLS_BIN", REPO / ".tools" / "bin"))


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """gen's up-to-date records (gen.stamp) go to a folder of this test session, not ~/.cache/gen; gen
    subprocesses inherit it."""
    os.environ["GEN_CACHE_DIR"] = str(tmp_path_factory.mktemp("gen-cache"))


def node(name: str, *, deps: tuple[str, ...] = (), materialized: str = "table", meta: dict[str, Any] | None = None,
         tags: tuple[str, ...] = (), resource_type: str = "model", package: str = "shop",
         version: int | None = None, path: str | None = None, enabled: bool = True,
         config_meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """One manifest node in the v12 shape; deps are unique ids."""
    suffix = f".v{version}" if version is not None else ""
    uid = f"{resource_type}.{package}.{name}{suffix}"
    folder = {"model": "models", "seed": "seeds", "snapshot": "snapshots", "test": "tests"}[resource_type]
    ext = ".csv" if resource_type == "seed" else ".sql"
    return {
        "unique_id": uid, "resource_type": resource_type, "name": name, "package_name": package,
        "original_file_path": path or f"{folder}/{name}{'_v' + str(version) if version else ''}{ext}",
        "patch_path": None, "fqn": [package, name] + ([f"v{version}"] if version else []),
        "config": {"enabled": enabled, "materialized": materialized if resource_type == "model" else resource_type,
                   "meta": config_meta if config_meta is not None else ({"digdag": meta} if meta else {}),
                   "tags": list(tags)},
        "meta": {}, "tags": list(tags), "depends_on": {"macros": [], "nodes": list(deps)},
        "version": version, "latest_version": version,
    }


def manifest_dict(*nodes: dict[str, Any], project: str = "shop", schema: int = 12,
                  sources: tuple[str, ...] = ()) -> dict[str, Any]:
    """A whole manifest around the given nodes."""
    return {
        "metadata": {"dbt_schema_version": f"https://schemas.getdbt.com/dbt/manifest/v{schema}.json",
                     "dbt_version": "1.10.0", "project_name": project, "adapter_type": "duckdb"},
        "nodes": {n["unique_id"]: n for n in nodes},
        "sources": {f"source.{project}.raw.{s}": {"unique_id": f"source.{project}.raw.{s}", "name": s,
                                                  "source_name": "raw", "package_name": project,
                                                  "original_file_path": "models/_sources.yml"}
                    for s in sources},
    }


@pytest.fixture
def write_project(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a manifest (and optional gen.yml text) into a fresh project dir; returns the dir."""

    def write(manifest: dict[str, Any], gen_yml: str | None = None) -> Path:
        project = tmp_path / "project"
        (project / "target").mkdir(parents=True, exist_ok=True)
        (project / "target" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        if gen_yml is not None:
            (project / "gen.yml").write_text(gen_yml, encoding="utf-8")
        return project

    return write


def require_tool(name: str) -> Path:
    """Path of a tool installed by scripts/setup.sh; a missing tool fails the test (never skips)."""
    path = TOOLS_BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found:
            return Path(found)
        pytest.fail(f"{name} is not installed at {path}; run `make setup` (scripts/setup.sh)")
    return path


def copy_example(root: Path) -> Path:
    """A copy of examples/shop at root/examples/shop, with the repository's dbt package where its
    packages.yml expects it (root/dbt/digdag_session); no target/, logs/ or dbt_packages/."""
    project = root / "examples" / "shop"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(
        "target", "logs", "dbt_packages", "*.duckdb", ".user.yml"))
    shutil.copytree(REPO / "dbt" / "digdag_session", root / "dbt" / "digdag_session")
    return project


def dbt_invoke(args: list[str], project: Path, *, manifest: Any = None) -> Any:
    """Run a dbt command in-process through dbt-core (optionally on a loaded manifest); fail on error."""
    import contextlib
    import io

    from dbt.cli.main import dbtRunner

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        result = dbtRunner(manifest=manifest).invoke(
            [*args, "--project-dir", str(project), "--profiles-dir", str(project), "--quiet"])
    if not result.success:
        pytest.fail(f"dbt {' '.join(args)} failed: {result.exception or sink.getvalue()[-2000:]}")
    return result


@pytest.fixture(scope="session")
def parsed_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example project after `dbt deps` and `dbt parse` (target/manifest.json written)."""
    project = copy_example(tmp_path_factory.mktemp("shop"))
    dbt_invoke(["deps"], project)
    dbt_invoke(["parse"], project)
    return project
