"""Apply a rendered tree to out/ safely. The only module that writes out/.

Writes are staged in a hidden sibling folder, recorded in a journal, then renamed into place, so a
failure or a kill leaves out/ as it was or (after the next run finishes the journal) fully updated.
Only files that carry gen's header are pruned; files gen did not write are never overwritten unless
forced, and never deleted. A lock on the out/ directory keeps two runs from interleaving. What would
change is decided by gen.compare; what is in out/ is read through gen.outdir.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import msgspec

from gen.compare import Changes, Stage, classify, compare_tree
from gen.errors import OutputError
from gen.outdir import Inside, check_inside, check_out_dir, staging_dir, walk

__all__ = ["Changes", "apply_tree", "compare_tree"]


def apply_tree(tree: Mapping[str, str], out: Path, *, force: bool = False) -> Changes:
    """Bring out/ to exactly `tree` (plus foreign files left alone), atomically as a whole.

    The files are rendered (tree values are read), compared and staged in one pass. A new out/ is staged
    whole and renamed into place; an existing one is updated file by file from a journal."""
    check_out_dir(out)
    new_folder = not os.path.lexists(out)
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        recovered = _recover(out)
        existing = dict(walk(out))
        staging = staging_dir(out)
        shutil.rmtree(staging, ignore_errors=True)
        whole = new_folder and not existing
        try:
            staging.mkdir()
            target = staging / "tree" if whole else staging
            target.mkdir(exist_ok=True)
            folders = _folders(list(tree)) if whole else [str(i) for i in range(len(tree) // _PER_FOLDER + 1)]
            for folder in folders:
                (target / folder).mkdir()
            changes = classify(tree, out, existing=existing, force=force, stage=_stager(target, whole=whole),
                               with_digests=True)
            staged = changes.staged
            if changes.blocked:
                raise OutputError(
                    f"refusing to overwrite {len(changes.blocked)} file(s) gen did not write: "
                    f"{', '.join(changes.blocked[:5])}; move them away or pass --force", source=str(out))
            if not changes.changed:
                shutil.rmtree(staging, ignore_errors=True)
                return replace(changes, recovered=recovered)
            _sync(target, [name for name, _ in staged])
        except OSError as e:
            shutil.rmtree(staging, ignore_errors=True)
            raise OutputError(f"cannot stage the new files ({_reason(e)}); out/ was left as it was",
                              source=str(out)) from e
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            if whole:
                os.rename(target, out)  # replaces the empty folder made above, all files at once
                shutil.rmtree(staging, ignore_errors=True)
            else:
                journal: dict[str, list] = {  # type: ignore[type-arg]
                    "moves": [list(pair) for pair in staged], "deletes": list(changes.deleted)}
                _write_journal(staging, journal)
                _commit(out, staging, journal)
        except _Stopped as stop:
            if stop.done == 0:  # nothing in out/ was touched: drop the staged files, say what stopped it
                shutil.rmtree(staging, ignore_errors=True)
                raise OutputError(f"cannot write into it ({_reason(stop.error)}); nothing was changed",
                                  source=str(out)) from stop.error
            raise OutputError(
                f"writing stopped after {stop.done} of {stop.total} file(s) ({_reason(stop.error)}); the next "
                f"gen run finishes the update from {staging.name}", source=str(out)) from stop.error
        except OSError as e:
            shutil.rmtree(staging, ignore_errors=True)  # the journal was not written: nothing was moved
            raise OutputError(f"cannot write into it ({_reason(e)}); nothing was changed", source=str(out)) from e
        return replace(changes, recovered=recovered)


def _stager(folder: Path, *, whole: bool) -> Stage:
    """Write each file into the staging folder: at its own path when the folder becomes out/ whole, else
    numbered in subfolders of _PER_FOLDER files."""
    umask = os.umask(0)
    os.umask(umask)

    def stage(index: int, rel: str, data: bytes) -> str:
        name = rel if whole else f"{index // _PER_FOLDER}/{index}.tmp"
        _write_file(folder / name, data, 0o755 if rel.endswith(".sh") else 0o644, umask)
        return name

    return stage


def _folders(rels: list[str]) -> list[str]:
    """Every folder the files need, parents first."""
    found = {""}
    for rel in rels:
        folder = rel.rpartition("/")[0]
        while folder not in found:
            found.add(folder)
            folder = folder.rpartition("/")[0]
    return sorted(found - {""}, key=lambda f: (f.count("/"), f))


def _write_file(path: Path, data: bytes, mode: int, umask: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if mode & umask:  # the file must get exactly this mode, whatever the umask
            os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _sync(folder: Path, names: list[str]) -> None:
    """Make the staged files durable before anything names them: a few one by one, many with one
    syncfs() of the staging folder's file system (thousands of fsync() calls cost far more than the
    writing itself)."""
    syncfs = _syncfs() if len(names) > _FSYNC_EACH_UP_TO else None
    if syncfs is not None:
        syncfs(folder)
        return
    for name in names:
        fd = os.open(folder / name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_FSYNC_EACH_UP_TO = 32
_PER_FOLDER = 500  # staged files of an update go into subfolders: creating one among tens of thousands costs more


_SYNCFS: list[Callable[[Path], None] | None] = []


def _syncfs() -> Callable[[Path], None] | None:
    """syncfs(2) of the file system holding a folder (Linux), or None where there is none."""
    if not _SYNCFS:
        _SYNCFS.append(None)
        if sys.platform.startswith("linux"):
            import ctypes

            try:
                libc_syncfs = ctypes.CDLL(None, use_errno=True).syncfs
            except (OSError, AttributeError):
                return None

            def syncfs(folder: Path) -> None:
                fd = os.open(folder, os.O_RDONLY)
                try:
                    if libc_syncfs(fd) != 0:
                        code = ctypes.get_errno()
                        raise OSError(code, os.strerror(code))
                finally:
                    os.close(fd)

            _SYNCFS[0] = syncfs
    return _SYNCFS[0]


def _reason(e: OSError) -> str:
    return os.strerror(e.errno) if e.errno else str(e)


def _write_journal(staging: Path, journal: dict[str, list]) -> None:  # type: ignore[type-arg]
    tmp = staging / "journal.json.tmp"
    tmp.write_bytes(msgspec.json.encode(journal))
    os.replace(tmp, staging / "journal.json")


class _Stopped(Exception):
    """_commit failed after `done` of `total` operations."""

    def __init__(self, error: OSError, done: int, total: int) -> None:
        super().__init__(str(error))
        self.error, self.done, self.total = error, done, total


def _commit(out: Path, staging: Path, journal: Mapping[str, list]) -> int:  # type: ignore[type-arg]
    """Apply a journal (moves, then deletes) and drop the staging folder; returns the files moved. An
    OSError comes back as _Stopped, saying how far it got."""
    inside = Inside(out)
    made: set[str] = set()
    total = len(journal["moves"]) + len(journal["deletes"])
    done = 0
    try:
        for tmp_name, rel in journal["moves"]:
            src = os.path.join(staging, tmp_name)
            target = os.path.join(out, rel)
            inside.check(rel)
            folder = os.path.dirname(target)
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            try:
                os.replace(src, target)
            except FileNotFoundError:
                if os.path.lexists(src):
                    raise
                # already moved by an interrupted run
            done += 1
        for rel in journal["deletes"]:
            target = out / rel
            check_inside(out, target)
            if target.exists() and not target.is_symlink():
                target.unlink()
            _prune_empty_dirs(out, target.parent)
            done += 1
    except OSError as e:
        raise _Stopped(e, done, total) from e
    shutil.rmtree(staging, ignore_errors=True)
    return len(journal["moves"])


def _recover(out: Path) -> int:
    """Finish a run that was killed (or stopped) after staging everything, or drop one killed before;
    returns the files it moved into place."""
    staging = staging_dir(out)
    if not staging.exists():
        return 0
    journal_path = staging / "journal.json"
    if not journal_path.exists():
        shutil.rmtree(staging, ignore_errors=True)
        return 0
    try:
        return _commit(out, staging, msgspec.json.decode(journal_path.read_bytes()))
    except _Stopped as stop:
        raise OutputError(f"cannot finish the update an earlier run left in {staging.name} "
                          f"({_reason(stop.error)}); fix that and run gen again", source=str(out)) from stop.error


def _prune_empty_dirs(out: Path, folder: Path) -> None:
    root = out.resolve()
    while folder.resolve() != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    fd = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise OutputError("another gen run is writing this folder; try again when it finishes",
                                  source=str(out)) from e
            raise
        yield
    finally:
        os.close(fd)
