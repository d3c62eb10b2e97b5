"""Compare a rendered tree with out/: which files would be created, updated, deleted, left alone or
refused, with unified diffs on request. Reads out/ only; the writer passes a `stage` function to keep
each new or changed file as it is found, so every file is rendered and compared once."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gen.outdir import HEAD, Inside, check_out_dir, is_owned, owned_file, read_file, walk

# stage(index of the file in the tree, its path in out/, its bytes) -> the name it was staged under
Stage = Callable[[int, str, bytes], str]
Existing = Mapping[str, tuple[str, bool, int]]  # path in out/ -> (path, is a symlink, size), as walk() gives


@dataclass(frozen=True, slots=True)
class Changes:
    """What applying a tree to out/ does (or would do)."""

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()
    diffs: Mapping[str, str] = field(default_factory=dict)
    staged: tuple[tuple[str, str], ...] = ()  # (name in the staging folder, path in out/) of each write
    digests: Mapping[str, str] = field(default_factory=dict)  # path -> sha256 of the tree's content (apply_tree)
    recovered: int = 0  # files an interrupted earlier run had staged, moved into place by this one

    @property
    def changed(self) -> bool:
        """True when out/ differs from the tree."""
        return bool(self.created or self.updated or self.deleted)


def compare_tree(tree: Mapping[str, str], out: Path, *, force: bool = False, with_diff: bool = False) -> Changes:
    """Classify every file: created, updated, deleted (stale and ours), unchanged, foreign (not ours)."""
    check_out_dir(out)
    return classify(tree, out, existing=dict(walk(out)), force=force, with_diff=with_diff)


def classify(tree: Mapping[str, str], out: Path, *, existing: Existing, force: bool = False,
             with_diff: bool = False, stage: Stage | None = None, with_digests: bool = False) -> Changes:
    """compare_tree over a listing of out/ already made; with `stage`, each new or changed file is passed
    to it (until a file is blocked); with `with_digests`, the sha256 of every file of the tree (for the
    up-to-date record of a run that writes). Files are compared in the tree's order."""
    rels = list(tree)
    inside = Inside(out)
    for rel in rels:
        inside.check(rel)
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    blocked: list[str] = []
    diffs: dict[str, str] = {}
    staged: list[tuple[str, str]] = []
    digests: dict[str, str] = {}
    for index, rel in enumerate(rels):
        text = tree[rel]
        new = text.encode("utf-8")
        if with_digests:
            digests[rel] = hashlib.sha256(new).hexdigest()
        old = existing.get(rel)
        if old is None:
            created.append(rel)
            if with_diff:
                diffs[rel] = _diff(rel, "", text)
        else:
            path, is_link, size = old
            # A file of another size differs: read only the head that tells whether it is ours.
            same_size = size == len(new) and not is_link
            data = b"" if is_link else read_file(path, None if same_size or with_diff else HEAD)
            if same_size and data == new:
                unchanged.append(rel)
                continue
            differs = not is_link or new != b""  # (a link reads as empty)
            if differs and not is_owned(data) and not force:
                blocked.append(rel)
            updated.append(rel)
            if with_diff:
                diffs[rel] = _diff(rel, data.decode("utf-8", "replace"), text)
        if stage is not None and not blocked:
            staged.append((stage(index, rel, new), rel))
    deleted, foreign = [], []
    for rel in sorted(set(existing) - set(tree)):
        path, is_link, _ = existing[rel]
        if not is_link and owned_file(path):
            deleted.append(rel)
            if with_diff:
                diffs[rel] = _diff(rel, read_file(path, None).decode("utf-8", "replace"), "")
        else:
            foreign.append(rel)
    return Changes(created=tuple(created), updated=tuple(updated), deleted=tuple(deleted),
                   unchanged=tuple(unchanged), foreign=tuple(foreign), blocked=tuple(blocked),
                   diffs=dict(sorted(diffs.items())), staged=tuple(staged), digests=digests)


def _diff(rel: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=f"a/{rel}", tofile=f"b/{rel}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
