"""Session arithmetic for `require>`: which upstream sessions a reader's session needs.

Each workflow has a grid (the session times its schedule creates), a timezone, a run delay and a
data window: `current` covers [session, next session), `previous` covers [previous session, session).
A reader's session needs every upstream session whose window overlaps its own window, and only those
whose session time has come by the reader's scheduled run time (session time + delay). Every session
required lies on the upstream's grid, so require> never creates a session the upstream's own schedule
would not create.

The same arithmetic is expressed twice: as Python (to test the invariants) and as the Digdag
`${...}` JavaScript (moment-timezone) that the generated workflow evaluates. Both are built from one
list of operations, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from gen.schedule import Grid

UTC = UTC
_UNIT_NAMES = {"minute": "minutes", "hour": "hours", "day": "days", "week": "weeks", "month": "months"}
_ABSOLUTE = frozenset({"minutes", "hours"})

Op = tuple  # ("tz", name) | ("add", amount, unit) | ("floor", unit, step, weekday, monthday, phase_minutes)


@dataclass(frozen=True, slots=True)
class Timing:
    """What the arithmetic needs of a workflow: grid (None: unscheduled), timezone, delay, window."""

    grid: Grid | None
    tz: str
    delay_seconds: int
    window: str


@dataclass(frozen=True, slots=True)
class Need:
    """The upstream sessions one reader session requires: `first`, then `count` more steps of `step`.

    count is an int when it is the same for every reader session, else None (computed at run time by
    `count_ops`); step is (amount, unit) in the upstream's calendar.
    """

    first: tuple[Op, ...]
    step: tuple[int, str]
    count: int | None
    bound: tuple[Op, ...] | None
    bound_extra: tuple[int, str] | None
    now_offset_seconds: int


class Unaligned(Exception):
    """The two schedules share no regular grid, so no session can be derived."""


_FOREVER = 100 * 366 * 86400


def is_clamped(reader: Timing, upstream: Timing, need: Need) -> bool:
    """True when some upstream sessions overlapping the reader's window are left out because their
    time has not come by the reader's run time."""
    if reader.grid is None or upstream.grid is None:
        return False
    whole = need_for(reader, upstream, clamp=False)
    return any(len(sessions(whole, t)) > len(sessions(need, t)) for t in _sample_sessions(reader, upstream))


def need_for(reader: Timing, upstream: Timing, *, clamp: bool = True) -> Need:
    """Derive the operations that compute the upstream sessions one reader session needs."""
    if upstream.grid is None:
        # An unscheduled upstream runs only when required: give it the reader's own session time.
        return Need(first=(("tz", upstream.tz),), step=(1, "minutes"), count=1, bound=None, bound_extra=None,
                    now_offset_seconds=0)
    if not upstream.grid.regular or (reader.grid is not None and not reader.grid.regular):
        raise Unaligned
    ugrid = upstream.grid
    step = (ugrid.step, "minutes") if ugrid.unit == "minute" else (1, _UNIT_NAMES[ugrid.unit or ""])
    if reader.grid is None:
        # A reader run by hand at time t needs the latest upstream session at or before t.
        return Need(first=_floor(upstream, ()), step=step, count=1, bound=None, bound_extra=None,
                    now_offset_seconds=0)
    rstep = (reader.grid.step, "minutes") if reader.grid.unit == "minute" else (1, _UNIT_NAMES[reader.grid.unit or ""])
    start: tuple[Op, ...] = (("tz", reader.tz),)
    if reader.window == "previous":
        start += (("add", -rstep[0], rstep[1]),)
    end = start + (("add", rstep[0], rstep[1]),)
    if upstream.window == "current":
        first = _floor(upstream, start)
        bound, extra = end, None
    else:
        first = _floor(upstream, start) + (("add", step[0], step[1]),)
        bound, extra = end, step
    need = Need(first=first, step=step, count=None, bound=bound, bound_extra=extra,
                now_offset_seconds=reader.delay_seconds if clamp else _FOREVER)
    constant = _constant_count(reader, upstream, need)
    if constant is not None:
        return Need(first=first, step=step, count=constant, bound=None, bound_extra=None,
                    now_offset_seconds=need.now_offset_seconds)
    return need


def _floor(timing: Timing, base: tuple[Op, ...]) -> tuple[Op, ...]:
    """Operations taking `base` to the latest session of `timing`'s grid at or before it."""
    grid = timing.grid
    assert grid is not None and grid.unit is not None
    return (*base, ("tz", timing.tz),
            ("floor", grid.unit, grid.step, grid.weekday, grid.monthday, grid.phase_minutes))


# --- Python evaluation (tests, docs, constant detection) -----------------------------------------


def evaluate(ops: tuple[Op, ...], t: datetime) -> datetime:
    """Apply operations to an aware datetime the way moment-timezone does."""
    cur = t
    for op in ops:
        name = op[0]
        if name == "tz":
            cur = cur.astimezone(ZoneInfo(op[1]))
        elif name == "add":
            cur = _add(cur, op[1], op[2])
        elif name == "floor":
            cur = _floor_py(cur, *op[1:])
        else:  # pragma: no cover - the op list is built in this module
            raise ValueError(op)
    return cur


def _floor_py(x: datetime, unit: str, step: int, weekday: int, monthday: int, phase: int) -> datetime:
    """Latest grid point at or before x; a phase is a wall-clock time (cron's 03:15 stays 03:15 on DST days)."""

    def base(y: datetime) -> datetime:
        midnight = _localize(y.replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0), y.tzinfo)
        if unit == "minute":
            return _add(y.replace(second=0, microsecond=0), -(y.minute % step), "minutes")
        if unit == "hour":
            return y.replace(minute=0, second=0, microsecond=0)
        if unit == "day":
            return midnight
        if unit == "week":
            return _add(midnight, -(((midnight.weekday() + 1) % 7 - weekday) % 7), "days")
        shifted = _add(midnight, -1, "months") if midnight.day < monthday else midnight
        return _localize(shifted.replace(tzinfo=None, day=monthday), shifted.tzinfo)

    def at_phase(y: datetime) -> datetime:
        if not phase:
            return y
        if unit == "hour":
            return y.replace(minute=phase)
        return _localize(y.replace(tzinfo=None, hour=phase // 60, minute=phase % 60), y.tzinfo)

    found = at_phase(base(x))
    if found > x:
        found = at_phase(base(_add(x, -1, _UNIT_NAMES[unit]) if unit != "minute" else x))
    return found


def _localize(naive: datetime, tz: object) -> datetime:
    aware = naive.replace(tzinfo=tz)  # type: ignore[arg-type]
    # Round-trip through UTC so a wall time inside a DST gap moves forward, as moment does.
    return aware.astimezone(UTC).astimezone(tz)  # type: ignore[arg-type]


def _add(cur: datetime, amount: int, unit: str) -> datetime:
    if unit in _ABSOLUTE:
        delta = timedelta(minutes=amount) if unit == "minutes" else timedelta(hours=amount)
        return (cur.astimezone(UTC) + delta).astimezone(cur.tzinfo)
    naive = cur.replace(tzinfo=None)
    if unit == "days":
        naive += timedelta(days=amount)
    elif unit == "weeks":
        naive += timedelta(days=7 * amount)
    else:
        month = naive.month - 1 + amount
        year = naive.year + month // 12
        month = month % 12 + 1
        last = _days_in_month(year, month)
        naive = naive.replace(year=year, month=month, day=min(naive.day, last))
    return _localize(naive, cur.tzinfo)


def _days_in_month(year: int, month: int) -> int:
    nxt = datetime(year + month // 12, month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


def sessions(need: Need, t: datetime) -> list[datetime]:
    """The upstream session times one reader session at t requires (Python twin of the JS)."""
    first = evaluate(need.first, t)
    amount, unit = need.step
    if need.count is not None:
        return [_add(first, amount * i, unit) for i in range(need.count)]
    return [_add(first, amount * i, unit) for i in range(_count(need, t, first))]


def _count(need: Need, t: datetime, first: datetime) -> int:
    assert need.bound is not None
    bound = evaluate(need.bound, t)
    if need.bound_extra:
        bound = _add(bound, need.bound_extra[0], need.bound_extra[1])
    now = t + timedelta(seconds=need.now_offset_seconds)
    limit = min(bound, now + timedelta(milliseconds=1))
    amount, unit = need.step
    n = 0
    cur = first
    while cur < limit:
        n += 1
        cur = _add(first, amount * n, unit)
    return n


def grid_sessions(timing: Timing, start: datetime, stop: datetime) -> list[datetime]:
    """Every session time of a regular grid in [start, stop)."""
    grid = timing.grid
    assert grid is not None and grid.regular
    step = (grid.step, "minutes") if grid.unit == "minute" else (1, _UNIT_NAMES[grid.unit or ""])
    cur = evaluate(_floor(timing, ()), start)
    if cur < start:
        cur = _add(cur, step[0], step[1])
    out = []
    while cur < stop:
        out.append(cur)
        cur = _add(cur, step[0], step[1])
    return out


def window(timing: Timing, t: datetime) -> tuple[datetime, datetime]:
    """The data window [start, end) of a session at t."""
    assert timing.grid is not None and timing.grid.unit is not None
    step = (timing.grid.step, "minutes") if timing.grid.unit == "minute" else (1, _UNIT_NAMES[timing.grid.unit])
    t = t.astimezone(ZoneInfo(timing.tz))
    if timing.window == "previous":
        return _add(t, -step[0], step[1]), t
    return t, _add(t, step[0], step[1])


@lru_cache(maxsize=4096)
def _constant_count(reader: Timing, upstream: Timing, need: Need) -> int | None:
    """The number of sessions needed when it is the same for every sampled reader session, else None."""
    counts = {len(sessions(need, t)) for t in _sample_sessions(reader, upstream)}
    return counts.pop() if len(counts) == 1 else None


def _sample_sessions(reader: Timing, upstream: Timing) -> list[datetime]:
    """Reader sessions around every DST change of both zones in a year, plus a plain stretch."""
    marks = {datetime(2025, 1, 6, tzinfo=UTC)}
    for tz in {reader.tz, upstream.tz}:
        marks.update(_transitions(tz, 2025))
    spans = sorted(marks)
    out: set[datetime] = set()
    assert reader.grid is not None
    coarse = reader.grid.unit in ("week", "month")
    if coarse:
        out.update(grid_sessions(reader, datetime(2024, 12, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)))
    else:
        days = 3 if reader.grid.unit in ("minute", "hour") else 40
        for mark in spans:
            out.update(grid_sessions(reader, mark - timedelta(days=days), mark + timedelta(days=days)))
    return sorted(out)


@lru_cache(maxsize=256)
def _transitions(tz: str, year: int) -> tuple[datetime, ...]:
    zone = ZoneInfo(tz)
    found = []
    cur = datetime(year, 1, 1, tzinfo=UTC)
    prev = cur.astimezone(zone).utcoffset()
    while cur.year == year:
        nxt = cur + timedelta(hours=6)
        off = nxt.astimezone(zone).utcoffset()
        if off != prev:
            found.append(nxt)
            prev = off
        cur = nxt
    return tuple(found)


# --- JavaScript (moment-timezone inside Digdag's ${...}) ------------------------------------------


def js_moment(ops: tuple[Op, ...]) -> str:
    """JavaScript for the operations applied to Digdag's session_time (no braces: Digdag's template
    syntax ends an expression at the first `}`)."""
    expr = "moment(session_time)"
    ops = tuple(op for i, op in enumerate(ops)
                if not (op[0] == "tz" and i + 1 < len(ops) and ops[i + 1][0] == "tz"))
    for op in ops:
        name = op[0]
        if name == "tz":
            expr = f"{expr}.tz('{op[1]}')"
        elif name == "add":
            verb = "add" if op[1] >= 0 else "subtract"
            expr = f"{expr}.{verb}({abs(op[1])}, '{op[2]}')"
        elif name == "floor":
            expr = _js_floor(expr, *op[1:])
    return expr


def _js_floor(x: str, unit: str, step: int, weekday: int, monthday: int, phase: int) -> str:
    """JavaScript twin of _floor_py; x is an expression that builds a fresh moment each time it runs."""

    def base(y: str) -> str:
        if unit == "minute":
            return f"{y}.startOf('minute').subtract({y}.minute() % {step}, 'minutes')"
        if unit in ("hour", "day"):
            return f"{y}.startOf('{unit}')"
        if unit == "week":
            return f"{y}.startOf('day').subtract(({y}.day() + {7 - weekday}) % 7, 'days')"
        return f"{y}.startOf('day').subtract({y}.date() < {monthday} ? 1 : 0, 'months').date({monthday})"

    def at_phase(y: str) -> str:
        if not phase:
            return y
        if unit == "hour":
            return f"{y}.minute({phase})"
        return f"{y}.hour({phase // 60}).minute({phase % 60})"

    found = at_phase(base(x))
    if not phase:
        return found
    earlier = at_phase(base(f"{x}.subtract(1, '{_UNIT_NAMES[unit]}')"))
    return f"({found}.valueOf() > {x}.valueOf() ? {earlier} : {found})"


def js_session(need: Need, index: str | None) -> str:
    """`${...}` giving the index-th required session time (index: a JS variable, or None for the first)."""
    first = js_moment(need.first)
    amount, unit = need.step
    if index is not None:
        first = f"{first}.add({index} * {amount}, '{unit}')"
    return "${" + first + ".format()}"


def js_count(need: Need) -> str:
    """`${...}` giving how many upstream sessions a reader session needs, when not constant."""
    assert need.bound is not None
    first = js_moment(need.first)
    bound = js_moment(need.bound)
    if need.bound_extra:
        bound = f"{bound}.add({need.bound_extra[0]}, '{need.bound_extra[1]}')"
    now = f"moment(session_time).add({need.now_offset_seconds * 1000 + 1}, 'milliseconds')"
    limit = f"moment.min({bound}, {now})"
    amount, unit = need.step
    if unit in _ABSOLUTE:
        ms = amount * (60_000 if unit == "minutes" else 3_600_000)
        return "${Math.max(0, Math.ceil((" + limit + ".valueOf() - " + first + ".valueOf()) / " + str(ms) + "))}"
    return ("${Math.max(0, Math.ceil(" + limit + ".diff(" + first + ", '" + unit + "', true) / "
            + str(amount) + "))}")


def describe(timing: Timing) -> str:
    """Human text for comments and messages, e.g. `daily sessions (Asia/Tokyo)`."""
    if timing.grid is None:
        return "no schedule"
    return f"{timing.grid.unit or 'irregular'} sessions ({timing.tz})"
