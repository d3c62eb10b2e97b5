"""Rewrite tests/golden/<case>/ from the current code: `make goldens` (review the diff, then commit)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from tests.golden_cases import CASES, GOLDEN, render_case


def main() -> None:
    """Regenerate every golden tree."""
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(CASES):
            tree = render_case(name, Path(tmp))
            target = GOLDEN / name
            shutil.rmtree(target, ignore_errors=True)
            for rel, text in tree.items():
                path = target / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            print(f"wrote {target} ({len(tree)} files)")


if __name__ == "__main__":
    main()
