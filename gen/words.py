"""Wording shared by every report gen prints."""

from __future__ import annotations


def plural(count: int, word: str) -> str:
    """`1 workflow`, `3 workflows`."""
    return f"{count} {word}{'' if count == 1 else 's'}"
