"""The one escaping helper for each place user text reaches: YAML scalars, JSON blocks Digdag passes
through untouched, and comments."""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

from gen.errors import TemplateError

# Characters YAML 1.1 (Digdag's SnakeYAML) treats as line breaks or refuses, plus `$`: Digdag evaluates
# `${...}` in every string it reads, so `$` must never reach it literally from user text. (json.dumps
# already escapes the C0 controls, newline included, inside strings.)
_UNSAFE_IN_BLOCK = re.compile("[\\$\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")
_UNSAFE_SCALAR = re.compile("[\\$\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")
_EXPR = re.compile(r"^\$\{[^\n\"]+\}$")


# Characters the Job's side cannot carry: helm's YAML reader rejects them even as \u escapes.
_UNCARRIABLE = re.compile("[\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")


def uncarriable(text: str) -> str | None:
    """The first character in text that cannot reach dbt through helm, if any."""
    match = _UNCARRIABLE.search(text)
    return match.group() if match else None


def json_text(value: Any, *, indent: int | None = None) -> str:
    """JSON for a Digdag literal block: readable Unicode, but `$`, controls and YAML line breaks as \\uXXXX.

    Digdag's template engine sees no `${`, YAML sees one logical line per JSON line, and the JSON or
    YAML reader on the far side (helm, python) turns each escape back into the original character.
    """
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, indent=indent,
                      separators=(",", ": ") if indent is not None else (", ", ": "))
    return _UNSAFE_IN_BLOCK.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_quoted(value: Any) -> str:
    """JSON text as a single-quoted YAML scalar: YAML keeps its backslash escapes as they are, so `$` stays
    `\\u0024` until the JSON reader on the far side (run-dbt.sh, helm) decodes it."""
    return "'" + json_text(value).replace("'", "''") + "'"


def yaml_scalar(value: Any) -> str:
    """A double-quoted YAML scalar for text gen has validated; `$` and control characters are refused."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _UNSAFE_SCALAR.search(text):
        raise TemplateError(f"refusing to place {text!r} in a .dig file as a plain value (unsafe characters)")
    return encode_basestring_ascii(text)  # json.dumps(text), without its generic encoder around it


def digdag_expr(value: str) -> str:
    """A double-quoted YAML scalar holding one `${...}` expression gen built itself."""
    if not _EXPR.match(value):
        raise TemplateError(f"not a single Digdag expression: {value!r}")
    return encode_basestring(value)  # json.dumps(value, ensure_ascii=False)


_NOT_IN_COMMENT = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u0085]")


def comment(value: Any) -> str:
    """Text safe inside a `#` comment: one line, printable."""
    return _NOT_IN_COMMENT.sub("?", str(value))


def indent_block(text: str, width: int) -> str:
    """Indent every line after the first by `width` spaces (for YAML literal blocks)."""
    pad = " " * width
    return text.replace("\n", "\n" + pad)
