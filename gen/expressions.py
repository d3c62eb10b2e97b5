"""Digdag expressions for `require>`: the plan's session records (gen.requires.Required) as `${...}` text.

What a reviewer reads, simplest first:
- the reader's own session: no session_time at all;
- its previous own session: `${last_session_time}`, which Digdag computes from the reader's schedule;
- a shift and a floor in zones without daylight saving time: one short moment.js chain, since moment
  (which Digdag ships, without timezone data) handles fixed UTC offsets exactly;
- anything that needs a zone's DST table or a count that changes from session to session: a call of the
  project's shared session library (shared/sessions.yml, written once per project and `!include`d into
  the `_export` of the workflows that call it), with the operations as a short JavaScript array.

The library evaluates the same operations as gen.requires does in Python, on epoch milliseconds.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from gen.requires import COMPUTED, PREVIOUS, SAME, Need, Op, Required
from gen.zones import has_fixed_offset, offset_table

LIBRARY_PARAM = "gen_sessions"
TABLES_PARAM = "gen_tz"
_CALL = f"eval({LIBRARY_PARAM})"  # the library's source evaluates to an object with at() and count()
_FORMAT = "'YYYY-MM-DDTHH:mm:ssZ'"
_MINUTES = {"hour": 60, "day": 1440, "week": 7 * 1440, "month": 31 * 1440}
_START_OF = {"minute": "minute", "hour": "hour", "day": "day", "week": "isoWeek", "month": "month"}


def uses_library(required: Required) -> bool:
    """True when the expressions for this record call the shared session library."""
    return required.kind == COMPUTED and _moment_chain(required.need) is None


def library_zones(required: Required) -> tuple[str, ...]:
    """The zones whose offset tables the library needs for this record."""
    return required.need.zones if uses_library(required) else ()


@lru_cache(maxsize=4096)
def session_time(required: Required, index: str | None) -> str | None:
    """`${...}` of the index-th required session time (index: a loop variable such as `i`), or None when
    require> should use the reader's own session time."""
    if required.kind == SAME:
        return None
    if required.kind == PREVIOUS:
        return "${last_session_time}"
    need = required.need
    chain = _moment_chain(need)
    amount, unit = need.step
    if chain is not None:
        shift = ""
        if index is not None:
            shift = f".add({index}, '{unit}')" if amount == 1 else f".add({amount} * {index}, '{unit}')"
        return "${" + chain + shift + f".format({_FORMAT})" + "}"
    return "${" + f"{_CALL}.at(session_time, {_ops(need.first)}, [{amount}, '{unit}'], {index or 0})" + "}"


@lru_cache(maxsize=4096)
def session_count(required: Required) -> str:
    """The loop> count: a number, or `${...}` when it changes from session to session (DST, month lengths)."""
    need = required.need
    if need.count is not None:
        return str(need.count)
    assert need.bound is not None
    amount, unit = need.step
    return ("${" + f"{_CALL}.count(session_time, {_ops(need.first)}, [{amount}, '{unit}'], "
            f"{_ops(need.bound)}, {need.now_offset_seconds * 1000 + 1})" + "}")


def _ops(ops: tuple[Op, ...]) -> str:
    """Operations as a JavaScript array: a zone name switches zone, [n, unit] shifts, [unit, step, weekday,
    monthday, phase minutes] floors onto a grid."""
    parts = []
    for op in _effective(ops):
        if op[0] == "tz":
            parts.append(f"'{op[1]}'")
        elif op[0] == "add":
            parts.append(f"[{op[1]}, '{op[2]}']")
        else:
            unit, step, weekday, monthday, phase = op[1:]
            parts.append(f"['{unit}', {step}, {weekday}, {monthday}, {phase}]")
    return "[" + ", ".join(parts) + "]"


def _effective(ops: tuple[Op, ...]) -> list[Op]:
    """The operations without a zone switch that the next operation switches again (it changes nothing)."""
    return [op for op, after in zip(ops, (*ops[1:], ("end",)), strict=True)
            if not (op[0] == "tz" and after[0] == "tz")]


@lru_cache(maxsize=4096)
def _moment_chain(need: Need) -> str | None:
    """`moment(session_time)...` reaching the first required session, when every zone has a fixed offset,
    the count is fixed and every floor has a moment form; None otherwise."""
    if need.count is None or not all(has_fixed_offset(zone) for zone in need.zones):
        return None
    chain = "moment(session_time)"
    for op in _effective(need.first):
        if op[0] == "tz":
            chain += f".utcOffset({offset_table(op[1])[0]})"
        elif op[0] == "add":
            amount, unit = op[1], op[2]
            chain += f".add({amount}, '{unit}')" if amount >= 0 else f".subtract({-amount}, '{unit}')"
        else:
            floor = _moment_floor(*op[1:])
            if floor is None:
                return None
            chain += floor
    return chain


def _moment_floor(unit: str, step: int, weekday: int, monthday: int, phase: int) -> str | None:
    """The latest grid point at or before the instant, in moment: shift back by the grid's offset from the
    unit's start (weekday from Monday, day of month, time of day), take startOf, shift forward again."""
    if unit == "minute":
        return ".startOf('minute')" if step == 1 and phase == 0 else None
    if unit == "month" and monthday > 28:
        return None  # not every month has that day: the library handles it
    offset = phase
    if unit == "week":
        offset += (weekday - 1) % 7 * 1440
    elif unit == "month":
        offset += (monthday - 1) * 1440
    if offset >= _MINUTES[unit]:
        return None
    start = f".startOf('{_START_OF[unit]}')"
    if not offset:
        return start
    return f".subtract({offset}, 'minutes'){start}.add({offset}, 'minutes')"


def tables(zones: tuple[str, ...]) -> dict[str, list[object]]:
    """Each zone's UTC offsets for the library: [offset at 1990, [epoch ms, offset], ...] in minutes."""
    out: dict[str, list[object]] = {}
    for zone in sorted(set(zones)):
        first, changes = offset_table(zone)
        out[zone] = [first, *[[ms, off] for ms, off in changes]]
    return out


# The shared session library (gen/sessions.js): Digdag's parameters are JSON and cannot hold a function,
# so a parameter holds the library's source, and each call evaluates it (`eval(gen_sessions).at(...)`).
LIBRARY = "".join(line for line in (resources.files("gen") / "sessions.js").read_text(encoding="utf-8")
                  .splitlines(keepends=True) if not line.startswith("//"))  # its header comment stays at home
