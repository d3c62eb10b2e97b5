"""Names that reach Digdag and Kubernetes: safe, stable and distinct for any dbt node name."""

from __future__ import annotations

import hashlib
import re

_WORKFLOW_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NOT_WORD = re.compile(r"[^A-Za-z0-9_]+")
_NOT_DNS = re.compile(r"[^a-z0-9]+")
MAX_WORKFLOW_NAME = 120
MAX_SLUG = 30


def short_hash(text: str, length: int = 6) -> str:
    """A stable short hex digest of text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def workflow_name(wanted: str) -> str:
    """A Digdag workflow (file) name for `wanted`: itself when already safe, else a cleaned form plus a hash.

    The hash keeps two names that clean to the same text (`a-b` and `a.b`) distinct and stable.
    """
    if _WORKFLOW_OK.match(wanted) and len(wanted) <= MAX_WORKFLOW_NAME:
        return wanted
    cleaned = _NOT_WORD.sub("_", wanted).strip("_") or "w"
    if cleaned[0].isdigit():
        cleaned = "w_" + cleaned
    return f"{cleaned[:MAX_WORKFLOW_NAME - 7]}_{short_hash(wanted)}"


def job_slug(name: str) -> str:
    """A DNS-1123 label fragment (<= 30 chars) for Kubernetes Job names and label values."""
    slug = _NOT_DNS.sub("-", name.lower()).strip("-") or "wf"
    if len(slug) > MAX_SLUG:
        slug = slug[: MAX_SLUG - 7].rstrip("-") + "-" + short_hash(name)
    return slug
