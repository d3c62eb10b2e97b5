"""Where templates come from: the user's folder (if any) in front of the built-in templates/digdag/."""

from __future__ import annotations

import os
from pathlib import Path

from gen.errors import TemplateError


def builtin_templates() -> Path:
    """The templates installed with the package (gen/templates/digdag), or templates/digdag/ of this
    checkout when gen runs from it."""
    installed = Path(__file__).resolve().parent / "templates" / "digdag"
    if installed.is_dir():
        return installed
    here = Path(__file__).resolve().parent.parent / "templates" / "digdag"
    if here.is_dir():
        return here
    raise TemplateError(f"built-in templates not found at {installed} or {here}")


def template_folders(user_templates: str | None) -> list[str]:
    """The search path, first match wins: the user's folder, then the built-in one."""
    paths = [str(builtin_templates())]
    if user_templates:
        if not os.path.isdir(user_templates):
            raise TemplateError(f"template folder {user_templates} does not exist")
        paths.insert(0, user_templates)
    return paths


def template_files(folders: list[str]) -> dict[str, Path]:
    """Every file of the search path by its relative path, the first folder's copy winning."""
    seen: dict[str, Path] = {}
    for root in reversed(folders):
        base = Path(root)
        for path in sorted(base.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                seen[path.relative_to(base).as_posix()] = path
    return dict(sorted(seen.items()))
