"""Text scanning of dbt model and macro code for `gen lint`: comments, tokens, macro calls, line numbers.

Works on raw SQL/Jinja (or Python) text without rendering it. Comments are blanked out with spaces
so that offsets, and therefore line numbers, stay those of the original file.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

# Reading the wall clock, in SQL of the common warehouses, in dbt's Jinja and in Python models.
WALL_CLOCK = re.compile(
    r"\bcurrent_(?:timestamp|date|time|datetime)(?:_in_utc|_backcompat|_ltz|_ntz|_tz)*\b"
    r"|\b(?:now|getdate|getutcdate|sysdatetime|sysutcdatetime|today)\s*\("
    r"|\b(?:sysdate|systimestamp|localtimestamp|localtime)\b"
    r"|\bunix_timestamp\s*\(\s*\)"
    r"|\brun_started_at\b"
    r"|\bsnapshot_get_time\b"
    r"|\bmodules\s*\.\s*datetime\s*\.\s*(?:datetime|date)\s*\.\s*(?:now|utcnow|today)\b"
    r"|\b(?:datetime|date|Timestamp)\s*\.\s*(?:now|utcnow|today)\s*\("
    r"|\btime\s*\.\s*time\s*\(",
    re.IGNORECASE)

# Reading the Digdag session time: the digdag_session package, var/env var digdag_session_time.
SESSION_TIME = re.compile(r"digdag_session|digdag_window_filter|digdag_delete_window", re.IGNORECASE)

# Macros of the digdag_session package that take a grain, and the position of that argument.
GRAIN_ARGUMENT = {"digdag_session_start": 0, "digdag_session_end": 0, "digdag_session_bounds": 0,
                  "digdag_window_filter": 1, "digdag_delete_window": 1}
WINDOW_ARGUMENT = {"digdag_session_start": 2, "digdag_session_end": 2, "digdag_session_bounds": 2,
                   "digdag_window_filter": 3, "digdag_delete_window": 3, "digdag_session_date": 1}
TZ_ARGUMENT = {"digdag_session_start": 1, "digdag_session_end": 1, "digdag_session_bounds": 1,
               "digdag_window_filter": 2, "digdag_delete_window": 2, "digdag_session_date": 0}
GRAINS = {"hour": "hour", "hourly": "hour", "day": "day", "daily": "day", "week": "week", "weekly": "week",
          "month": "month", "monthly": "month"}
_NAMES = "|".join(sorted(set(GRAIN_ARGUMENT) | set(TZ_ARGUMENT)))
_CALL = re.compile(r"\b(?:digdag_session\s*\.\s*)?(" + _NAMES + r")\s*\(")
_COMPARED = re.compile(r"(?:[=<>]|\bbetween|\bin\s*\()$", re.IGNORECASE)
_STRING = re.compile(r"""^\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*$""")


@dataclass(frozen=True, slots=True)
class Call:
    """One call of a digdag_session macro: its name, arguments as written, where it starts, and whether
    it stands right after a comparison (`= {{ ... }}`), i.e. is used as a filter value."""

    name: str
    args: tuple[str, ...]
    kwargs: tuple[tuple[str, str], ...]
    offset: int
    compared: bool


    def argument(self, key: str, position: int | None) -> str | None:
        """The text of an argument given by keyword or position, None when absent."""
        named = dict(self.kwargs)
        if key in named:
            return named[key]
        if position is not None and position < len(self.args):
            return self.args[position]
        return None


# A string literal (kept) or a comment (blanked), whichever starts first; an unterminated one runs to the end.
_SQL_SCAN = re.compile(r"""'[^']*(?:'|\Z)|"[^"]*(?:"|\Z)|\{\#.*?(?:\#\}|\Z)|--[^\n]*|/\*.*?(?:\*/|\Z)""", re.S)
_PY_SCAN = re.compile(r"""'(?:\\.|\\\Z|[^'\\])*(?:'|\Z)|"(?:\\.|\\\Z|[^"\\])*(?:"|\Z)|\{\#.*?(?:\#\}|\Z)|\#[^\n]*""",
                      re.S)
_NOT_NEWLINE = re.compile(r"[^\n]")


def blank_comments(text: str, *, language: str = "sql") -> str:
    """`text` with SQL (--, /* */), Jinja ({# #}) or Python (#) comments replaced by spaces (newlines kept,
    so offsets and line numbers stay); quotes are honoured, so `'--'` is no comment."""

    def blank(match: re.Match[str]) -> str:
        found = match.group()
        return found if found[0] in "'\"" else _NOT_NEWLINE.sub(" ", found)

    return (_PY_SCAN if language == "python" else _SQL_SCAN).sub(blank, text)


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1


def wall_clock_uses(text: str, *, language: str = "sql") -> list[tuple[str, int]]:
    """(token, offset) of every wall-clock read outside comments."""
    clean = blank_comments(text, language=language)
    return [(" ".join(m.group(0).split()).rstrip("( "), m.start()) for m in WALL_CLOCK.finditer(clean)]


def reads_session_time(text: str, *, language: str = "sql") -> bool:
    """True when the code (outside comments) reads the Digdag session time."""
    return bool(SESSION_TIME.search(blank_comments(text, language=language)))


def first_offset(text: str, pattern: str) -> int | None:
    """Offset of the first match of a regular expression outside comments."""
    match = re.search(pattern, blank_comments(text))
    return match.start() if match else None


_REF = re.compile(r"""\bref\s*\(\s*['"]([^'"]*)['"]""")


def ref_offsets(text: str) -> dict[str, int]:
    """Offset of the first `ref('name'` outside comments, for each name the code refs first-argument."""
    found: dict[str, int] = {}
    for match in _REF.finditer(blank_comments(text)):
        found.setdefault(match.group(1), match.start())
    return found


def session_calls(text: str) -> list[Call]:
    """Every call of a digdag_session window macro, with its arguments split at top-level commas."""
    clean = blank_comments(text)
    calls = []
    for match in _CALL.finditer(clean):
        inner = _balanced(clean, match.end())
        if inner is None:
            continue
        args, kwargs = [], []
        for part in _split(inner):
            keyword = re.match(r"^\s*([A-Za-z_]\w*)\s*=(?!=)(.*)$", part, re.DOTALL)
            if keyword:
                kwargs.append((keyword.group(1), keyword.group(2).strip()))
            elif part.strip():
                args.append(part.strip())
        calls.append(Call(name=match.group(1), args=tuple(args), kwargs=tuple(kwargs), offset=match.start(),
                          compared=_compared(clean, match.start())))
    return calls


def _compared(text: str, end: int) -> bool:
    """True when the code before `end` (blanks and `{` of a Jinja tag left out) ends in a comparison: `=`,
    `<`, `>`, `between` or `in (`. Only the last few characters are searched, not everything before."""
    while end and (text[end - 1].isspace() or text[end - 1] == "{"):
        end -= 1
    word_end = end - 1 if text[end - 1:end] == "(" else end  # `in (`: the word ends before the blanks
    while word_end and text[word_end - 1].isspace():
        word_end -= 1
    # The longest word is `between`; the regex still sees the character before (for \b).
    return bool(_COMPARED.search(text, max(0, word_end - len("between")), end))


def string_value(argument: str | None) -> str | None:
    """The value of a quoted string literal argument; None for anything else (a variable, an expression)."""
    if argument is None:
        return None
    match = _STRING.match(argument)
    if not match:
        return None
    return match.group(1) if match.group(1) is not None else match.group(2)


def _outside_strings(text: str, start: int, depth: int) -> Iterator[tuple[int, str, int]]:
    """(index, character, bracket depth after it) for every character outside string literals."""
    quote = ""
    for i in range(start, len(text)):
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
            continue
        if c in "'\"":
            quote = c
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        yield i, c, depth


def _balanced(text: str, start: int) -> str | None:
    """The text between an opening parenthesis (just before `start`) and its closing one."""
    for i, c, depth in _outside_strings(text, start, 1):
        if c in ")]}" and depth == 0:
            return text[start:i]
    return None


def _split(inner: str) -> list[str]:
    """Split call arguments at the commas outside brackets and strings."""
    cuts = [i for i, c, depth in _outside_strings(inner, 0, 0) if c == "," and depth == 0]
    bounds = [-1, *cuts, len(inner)]
    return [inner[a + 1:b] for a, b in itertools.pairwise(bounds)]
