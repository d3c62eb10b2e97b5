"""Whole generated trees against the committed goldens (regenerate with `make goldens`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gen.render import RenderedTree
from tests.golden_cases import CASES, GOLDEN, render_case


@pytest.mark.parametrize("name", sorted(CASES))
def test_tree_matches_golden(name: str, tmp_path: Path) -> None:
    tree = render_case(name, tmp_path)
    golden_dir = GOLDEN / name
    golden = {p.relative_to(golden_dir).as_posix(): p.read_text(encoding="utf-8")
              for p in sorted(golden_dir.rglob("*")) if p.is_file()}
    assert sorted(tree) == sorted(golden), "file list differs; run `make goldens` and review"
    for rel, text in tree.items():
        assert text == golden[rel], f"{rel} differs from tests/golden/{name}; run `make goldens` and review"


@pytest.mark.parametrize("name", sorted(CASES))
def test_generation_is_byte_identical_twice(name: str, tmp_path: Path) -> None:
    assert render_case(name, tmp_path) == render_case(name, tmp_path)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_workflow_file_is_where_the_tree_says(name: str, tmp_path: Path) -> None:
    tree = render_case(name, tmp_path)
    assert isinstance(tree, RenderedTree)
    files = tree.workflow_files()
    assert sorted(files) == sorted(rel for rel in tree if rel.endswith(".dig") and "/shared/" not in f"/{rel}")
    assert all(rel.rsplit("/", 1)[-1] == f"{name}.dig" for rel, name in files.items())
