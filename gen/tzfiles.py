"""The TZif file behind a zone name: what ZoneInfo reads, for the offset tables and the up-to-date record."""

from __future__ import annotations

import os
import zoneinfo
from importlib import resources


def tzif_bytes(zone: str) -> bytes | None:
    """The TZif file ZoneInfo(zone) loads: the first match on zoneinfo.TZPATH, else the tzdata package."""
    parts = zone.split("/")
    if not zone or zone.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return None
    try:
        for folder in zoneinfo.TZPATH:
            path = os.path.join(folder, zone)
            if os.path.isfile(path):
                with open(path, "rb") as handle:
                    return handle.read()
        package = ".".join(["tzdata", "zoneinfo", *parts[:-1]])
        return resources.files(package).joinpath(parts[-1]).read_bytes()
    except (OSError, ImportError, ValueError):
        return None
