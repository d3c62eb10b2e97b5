"""The up-to-date record of `gen workflows`: what the last write read and wrote, to skip a run that would
change nothing.

After writing out/, gen records a digest of every input it read (the manifest's bytes, gen.yml, the
template files, the zone files behind the offset tables, gen's own code and the versions of the
libraries it renders with) and of every file it wrote, plus the messages it printed. The next run
with the same inputs checks those digests and reads every file in out/ back; when all match, the
result is known without decoding the manifest, and gen prints the recorded messages and exits.
Anything else (no record, an input or a file that differs, a file added to out/, an unfinished
write) means a full run. The record is a cache: it lives in the user's cache folder, never in out/,
and losing it costs only time.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from gen import __version__
from gen.outdir import listing, owned_file, staging_dir
from gen.template_dirs import template_files, template_folders
from gen.tzfiles import tzif_bytes

FORMAT = 1
_LIBRARIES = ("jinja2", "yaml", "msgspec", "click")


@dataclass(frozen=True, slots=True)
class Record:
    """One out/ folder's record."""

    key: str                      # digest of the manifest, gen.yml, options, gen's code and libraries
    reads: dict[str, str]         # template file -> sha256 ("" when missing)
    folders: dict[str, str]       # template folder -> digest of the names of its files
    zones: dict[str, str]         # time zone -> sha256 of the TZif file behind it
    files: dict[str, str]         # path in out/ -> sha256 of the content gen wrote
    foreign: list[str]            # files in out/ gen did not write (left alone)
    warnings: list[str]
    notes: list[str]
    summary: list[str]


def cache_dir() -> Path:
    """$GEN_CACHE_DIR, else $XDG_CACHE_HOME/gen, else ~/.cache/gen."""
    if os.environ.get("GEN_CACHE_DIR"):
        return Path(os.environ["GEN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gen"


def record_path(out: Path) -> Path:
    """The record of one out/ folder (by its absolute path)."""
    name = hashlib.sha256(os.path.abspath(out).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return cache_dir() / f"{name}.json"


def input_key(*, manifest: str, manifest_sha256: str, config: Path, options: Mapping[str, object]) -> str:
    """The digest of what every run reads the same way: the manifest (by its digest), gen.yml, the
    options that shape the output, gen's own code and the libraries' installed versions."""
    h = hashlib.sha256()
    for part in (f"format {FORMAT}", f"gen {__version__}", sys.version, manifest, manifest_sha256,
                 str(config), file_sha256(str(config)), json.dumps(options, sort_keys=True, default=str),
                 _code_digest(), *_library_versions()):
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return h.hexdigest()


def lookup(out: Path, key: str) -> Record | None:
    """The record of out/ when it still holds: same key, same other inputs, and out/ holds exactly the
    files recorded, with the content recorded. None otherwise."""
    try:
        data = json.loads(record_path(out).read_bytes())
        if data.pop("format", None) != FORMAT:
            return None
        record = Record(**data)
    except (OSError, ValueError, TypeError):
        return None
    if record.key != key or os.path.lexists(staging_dir(out)):
        return None
    if any(file_sha256(path) != digest for path, digest in record.reads.items()):
        return None
    if any(_folder_digest(folder) != digest for folder, digest in record.folders.items()):
        return None
    if any(_zone_digest(zone) != digest for zone, digest in record.zones.items()):
        return None
    present = listing(out)
    if set(present) != set(record.files) | set(record.foreign):
        return None
    for rel, digest in record.files.items():
        if present[rel] or file_sha256(os.path.join(out, rel)) != digest:
            return None
    for rel in record.foreign:  # still not ours: a file that now carries gen's header would be pruned
        if not present[rel] and _owned(os.path.join(out, rel)):
            return None
    return record


def save(out: Path, *, key: str, digests: Mapping[str, str], foreign: Iterable[str], user_templates: str | None,
         zones: Iterable[str], warnings: Iterable[str], notes: Iterable[str], summary: Iterable[str]) -> None:
    """Write the record of what was just written to out/ (quietly does nothing if it cannot)."""
    folders = template_folders(user_templates)
    record = Record(
        key=key, reads={str(path): file_sha256(str(path)) for path in template_files(folders).values()},
        folders={folder: _folder_digest(folder) for folder in folders},
        zones={zone: _zone_digest(zone) for zone in sorted(set(zones))},
        files=dict(digests),
        foreign=sorted(foreign), warnings=list(warnings), notes=list(notes), summary=list(summary))
    path = record_path(out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"format": FORMAT, **asdict(record)}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def forget(out: Path) -> None:
    """Drop the record of out/ (before writing to it)."""
    with contextlib.suppress(OSError):
        record_path(out).unlink()


# --- digests --------------------------------------------------------------------------------------


def file_sha256(path: str) -> str:
    """sha256 of a file's bytes ("" when it cannot be read)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return ""
    try:
        h = hashlib.sha256()
        step = min(os.fstat(fd).st_size + 1, 1 << 24)  # one read for a small file
        while chunk := os.read(fd, step):
            h.update(chunk)
        return h.hexdigest()
    except OSError:
        return ""
    finally:
        os.close(fd)


def _code_digest() -> str:
    """gen's own modules: an edited checkout (pip install -e) is a different generator."""
    h = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _library_versions() -> list[str]:
    """The installed distributions beside the libraries gen renders with (names carry versions)."""
    found = set()
    for name in _LIBRARIES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            found.add(f"{name} missing")
            continue
        site = Path(spec.origin).resolve().parent.parent
        try:
            found.update(n for n in os.listdir(site) if n.endswith((".dist-info", ".egg-info")))
        except OSError:
            found.add(f"{name} at {site}")
    return sorted(found)


def _folder_digest(folder: str) -> str:
    names = sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*"))
    return hashlib.sha256("\0".join(names).encode("utf-8", "surrogateescape")).hexdigest()


def _zone_digest(zone: str) -> str:
    data = tzif_bytes(zone)
    return hashlib.sha256(data).hexdigest() if data is not None else ""


def _owned(path: str) -> bool:
    try:
        return owned_file(path)
    except OSError:
        return False
