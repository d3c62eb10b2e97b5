"""Session arithmetic for `require>`: which upstream sessions a reader's session needs.

Each workflow has a grid (the session times its schedule creates), a timezone, a run delay and a data
window: `current` covers [session, next session), `previous` covers [previous session, session). A
reader's session needs every upstream session whose window overlaps its own, and only those whose
session time has come by the reader's scheduled run time (session time + delay). Every session it
requires lies on the upstream's grid, so require> never creates a session that the upstream's own
schedule would not create.

The plan records what a reader needs as a `Required`: its own session, its previous own session, or a
`Need` (a list of operations from the reader's session time to the first upstream session, a step and
a count). Rendering turns these records into Digdag expressions (gen.expressions); the Python here
evaluates the same operations, on epoch milliseconds with an explicit table of each zone's UTC offsets
(from the IANA database, 1990-2070: gen.zones), so tests can hold the two against each other.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from gen.schedule import Grid, Schedule
from gen.zones import instant_ms, offset_minutes, offset_table, wall_ms

_UNIT_NAMES = {"minute": "minutes", "hour": "hours", "day": "days", "week": "weeks", "month": "months"}
_ABSOLUTE_MS = {"minutes": 60_000, "hours": 3_600_000}
_DAY_MS = 86_400_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()  # wall-clock ms // _DAY_MS + this: a proleptic Gregorian ordinal

Op = tuple[Any, ...]  # ("tz", zone) | ("add", amount, unit) | ("floor", unit, step, weekday, monthday, phase_minutes)


@dataclass(frozen=True, slots=True)
class Timing:
    """What the arithmetic needs of a workflow: grid (None: unscheduled), timezone, delay, window."""

    grid: Grid | None
    tz: str
    delay_seconds: int
    window: str


@dataclass(frozen=True, slots=True)
class Need:
    """The upstream sessions one reader session needs: `first`, then `count` steps of `step`.

    count is an int when it is the same for every reader session; otherwise None, and the count is
    computed at run time as the number of steps before min(`bound`, reader's run time).
    """

    first: tuple[Op, ...]
    step: tuple[int, str]
    count: int | None
    bound: tuple[Op, ...] | None
    now_offset_seconds: int

    @property
    def zones(self) -> tuple[str, ...]:
        """Every timezone the operations use."""
        ops = self.first + (self.bound or ())
        return tuple(sorted({op[1] for op in ops if op[0] == "tz"} | {"UTC"}))


def timing_of(schedule: Schedule | None, tz: str, window: str) -> Timing:
    """The Timing of a workflow with this schedule (None: unscheduled), timezone and window."""
    return Timing(grid=schedule.grid if schedule else None, tz=tz,
                  delay_seconds=schedule.delay_seconds if schedule else 0, window=window)


class Unaligned(Exception):
    """The two schedules share no regular grid, so no session can be derived."""


_FOREVER = 100 * 366 * 86400


def _step(grid: Grid) -> tuple[int, str]:
    return (grid.step, "minutes") if grid.unit == "minute" else (1, _UNIT_NAMES[grid.unit or ""])


def _floor(timing: Timing, base: tuple[Op, ...]) -> tuple[Op, ...]:
    """Operations taking `base` to the latest session of `timing`'s grid at or before it."""
    grid = timing.grid
    assert grid is not None and grid.unit is not None
    return (*base, ("tz", timing.tz),
            ("floor", grid.unit, grid.step, grid.weekday, grid.monthday, grid.phase_minutes))


def _shape(reader: Timing, upstream: Timing) -> tuple[tuple[Op, ...], tuple[int, str], tuple[Op, ...]]:
    """For two regular grids: the operations to the first upstream session a reader session needs, the
    upstream's step, and the operations to the end of what it needs (before the run-time clamp)."""
    assert reader.grid is not None and upstream.grid is not None
    if not upstream.grid.regular or not reader.grid.regular:
        raise Unaligned
    step = _step(upstream.grid)
    rstep = _step(reader.grid)
    start: tuple[Op, ...] = (("tz", reader.tz),)
    if reader.window == "previous":
        start += (("add", -rstep[0], rstep[1]),)
    end = (*start, ("add", rstep[0], rstep[1]))
    if upstream.window == "current":
        return _floor(upstream, start), step, end  # the upstream window containing the reader's start
    # the first upstream end after the reader's start
    return (*_floor(upstream, start), ("add", step[0], step[1])), step, (*end, ("tz", upstream.tz),
                                                                           ("add", step[0], step[1]))


def need_for(reader: Timing, upstream: Timing, *, clamp: bool = True) -> Need:
    """Derive the operations that compute the upstream sessions one reader session needs."""
    if upstream.grid is None:
        # An unscheduled upstream runs only when required: give it the reader's own session time.
        return Need(first=(("tz", upstream.tz),), step=(1, "minutes"), count=1, bound=None,
                    now_offset_seconds=0)
    if not upstream.grid.regular or (reader.grid is not None and not reader.grid.regular):
        raise Unaligned
    if reader.grid is None:
        # A reader run by hand at time t needs the latest upstream session at or before t.
        return Need(first=_floor(upstream, ()), step=_step(upstream.grid), count=1, bound=None,
                    now_offset_seconds=0)
    first, step, bound = _shape(reader, upstream)
    profile = _profile(reader, upstream)
    counts = profile.clamped if clamp else profile.whole
    now = reader.delay_seconds if clamp else _FOREVER
    if counts and all(c == counts[0] for c in counts):  # the same for every sampled reader session
        return Need(first=first, step=step, count=counts[0], bound=None, now_offset_seconds=now)
    return Need(first=first, step=step, count=None, bound=bound, now_offset_seconds=now)


def is_clamped(reader: Timing, upstream: Timing) -> bool:
    """True when upstream sessions overlapping the reader's window are left out because their time has
    not come by the reader's run time."""
    if reader.grid is None or upstream.grid is None:
        return False
    return _profile(reader, upstream).cut


@dataclass(frozen=True, slots=True)
class _Profile:
    """A pair of regular grids evaluated on the sampled reader sessions (epoch ms, in `samples`' order):
    the first upstream session each needs, the number of upstream sessions overlapping its
    window (`whole`), the number of those that have come by its run time (`clamped`, before `limits`)."""

    samples: tuple[int, ...]
    firsts: tuple[int, ...]
    whole: tuple[int, ...]
    clamped: tuple[int, ...]
    limits: tuple[int, ...]
    cut: bool  # some sample's clamped count is below its whole count


@lru_cache(maxsize=4096)
def _profile(reader: Timing, upstream: Timing) -> _Profile:
    first, step, bound = _shape(reader, upstream)
    delay_ms = reader.delay_seconds * 1000
    samples = _samples(reader, upstream)
    firsts, whole, clamped, limits = [], [], [], []
    for t in samples:
        zone, f = _apply(first, t)
        _, b = _apply(bound, t)
        n = _steps_before(zone, f, step, b)
        run = t + delay_ms + 1
        firsts.append(f)
        whole.append(n)
        limits.append(min(b, run))
        clamped.append(n if run >= b else _steps_before(zone, f, step, run))
    return _Profile(samples, tuple(firsts), tuple(whole), tuple(clamped), tuple(limits),
                    cut=any(w > c for w, c in zip(whole, clamped, strict=True)))


# --- Python evaluation ----------------------------------------------------------------------------


def _cal(wall: int, amount: int, unit: str) -> int:
    """Calendar arithmetic on a wall-clock epoch-ms value (months clamp the day, as moment does)."""
    if unit == "days":  # a wall-clock day is always 24 hours long (wall time has no DST)
        return wall + amount * _DAY_MS
    if unit == "weeks":
        return wall + amount * 7 * _DAY_MS
    days, time_of_day = divmod(wall, _DAY_MS)
    d = date.fromordinal(days + _EPOCH_ORDINAL)
    month = d.month - 1 + amount
    year, month = d.year + month // 12, month % 12 + 1
    day = min(d.day, calendar.monthrange(year, month)[1]) if d.day > 28 else d.day
    return (date(year, month, day).toordinal() - _EPOCH_ORDINAL) * _DAY_MS + time_of_day


def _floor_wall(w: int, unit: str, step: int, weekday: int, monthday: int, phase: int) -> int:
    """Latest grid point at or before wall time w; a phase is a wall-clock time of day (or minute)."""

    def base(y: int) -> int:
        if unit == "minute":
            return y - y % 60_000 - ((y // 60_000) % 60 % step) * 60_000
        if unit == "hour":
            return y - y % 3_600_000
        midnight = y - y % _DAY_MS
        if unit == "day":
            return midnight
        if unit == "week":
            js_day = (midnight // _DAY_MS + 4) % 7  # 1970-01-01 was a Thursday (4)
            return midnight - ((js_day - weekday) % 7) * _DAY_MS
        d = date.fromordinal(midnight // _DAY_MS + _EPOCH_ORDINAL)
        if d.day < monthday:
            d = date.fromordinal(_cal(midnight, -1, "months") // _DAY_MS + _EPOCH_ORDINAL)
        return (date(d.year, d.month, monthday).toordinal() - _EPOCH_ORDINAL) * _DAY_MS

    found = base(w) + phase * 60_000
    if phase and found > w:
        earlier = w - 3_600_000 if unit == "hour" else _cal(w, -1, _UNIT_NAMES[unit])
        found = base(earlier) + phase * 60_000
    return found


def _apply(ops: tuple[Op, ...], ms: int, zone: str = "UTC") -> tuple[str, int]:
    for op in ops:
        if op[0] == "tz":
            zone = op[1]
        elif op[0] == "add":
            ms = _shift(zone, ms, op[1], op[2])
        else:
            floored = _floor_wall(wall_ms(zone, ms), *op[1:])
            # Hours are absolute: keep the instant's own offset, so the second 01:00 of a DST fall-back
            # (a session cron creates) floors to itself, not to the first.
            absolute = op[1] in ("minute", "hour")
            ms = floored - offset_minutes(zone, ms) * 60_000 if absolute else instant_ms(zone, floored)
    return zone, ms


def _shift(zone: str, ms: int, amount: int, unit: str) -> int:
    if unit in _ABSOLUTE_MS:
        return ms + amount * _ABSOLUTE_MS[unit]
    return instant_ms(zone, _cal(wall_ms(zone, ms), amount, unit))


def _to_ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def to_datetime(zone: str, ms: int) -> datetime:
    """An epoch-ms time as an aware datetime at the zone's offset then."""
    return datetime.fromtimestamp(ms / 1000, timezone(timedelta(minutes=offset_minutes(zone, ms))))


def evaluate(ops: tuple[Op, ...], t: datetime) -> datetime:
    """Apply operations to an aware datetime, exactly as the generated JavaScript does."""
    zone, ms = _apply(ops, _to_ms(t))
    return to_datetime(zone, ms)


def sessions(need: Need, t: datetime) -> list[datetime]:
    """The upstream session times one reader session at t requires (the Python twin of the JS)."""
    zone, found = sessions_ms(need, _to_ms(t))
    return [to_datetime(zone, ms) for ms in found]


def sessions_ms(need: Need, t: int) -> tuple[str, list[int]]:
    """sessions() on epoch milliseconds: the zone the sessions are shown in, and their times."""
    zone, first = _apply(need.first, t)
    amount, unit = need.step
    if need.count is not None:
        count = need.count
    else:
        assert need.bound is not None
        _, bound = _apply(need.bound, t)
        count = _steps_before(zone, first, need.step, min(bound, t + need.now_offset_seconds * 1000 + 1))
    return zone, [_shift(zone, first, amount * i, unit) for i in range(count)]


def _steps_before(zone: str, first: int, step: tuple[int, str], limit: int) -> int:
    """How many of first, first + step, first + 2 steps, ... lie before limit."""
    amount, unit = step
    if unit in _ABSOLUTE_MS:
        return -((first - limit) // (amount * _ABSOLUTE_MS[unit])) if first < limit else 0
    wall = wall_ms(zone, first)  # what _shift(zone, first, ...) starts from, worked out once
    n = 0
    while instant_ms(zone, _cal(wall, amount * n, unit)) < limit:
        n += 1
    return n


def grid_ms(timing: Timing, start: int, stop: int) -> list[int]:
    """Every session time (epoch ms) of a regular grid in [start, stop)."""
    assert timing.grid is not None and timing.grid.regular
    amount, unit = _step(timing.grid)
    zone, cur = _apply(_floor(timing, ()), start)
    if unit in _ABSOLUTE_MS:
        size = amount * _ABSOLUTE_MS[unit]
        return list(range(cur + max(0, -((cur - start) // size)) * size, stop, size))
    wall = wall_ms(zone, cur)  # what _shift(zone, cur, ...) starts from, worked out once
    out: list[int] = []
    k = 0
    while True:
        ms = instant_ms(zone, _cal(wall, amount * k, unit))
        if ms >= stop:
            return out
        if ms >= start:
            out.append(ms)
        k += 1


def grid_sessions(timing: Timing, start: datetime, stop: datetime) -> list[datetime]:
    """Every session time of a regular grid in [start, stop)."""
    return [to_datetime(timing.tz, ms) for ms in grid_ms(timing, _to_ms(start), _to_ms(stop))]


def window(timing: Timing, t: datetime) -> tuple[datetime, datetime]:
    """The data window [start, end) of a session at t."""
    assert timing.grid is not None
    amount, unit = _step(timing.grid)
    ms = _to_ms(t)
    if timing.window == "previous":
        return to_datetime(timing.tz, _shift(timing.tz, ms, -amount, unit)), to_datetime(timing.tz, ms)
    return to_datetime(timing.tz, ms), to_datetime(timing.tz, _shift(timing.tz, ms, amount, unit))


def _utc_ms(year: int, month: int, day: int) -> int:
    return _to_ms(datetime(year, month, day, tzinfo=UTC))


def _samples(reader: Timing, upstream: Timing) -> tuple[int, ...]:
    """Reader sessions (epoch ms) around every offset change of both zones in 2025, around the first
    sessions of a coarse upstream (a month or week boundary changes what an hourly reader needs), plus a
    plain stretch."""
    assert reader.grid is not None and upstream.grid is not None
    marks = {_utc_ms(2025, 1, 6)}
    if upstream.grid.unit in ("day", "week", "month"):
        marks.update(grid_ms(upstream, _utc_ms(2025, 1, 1), _utc_ms(2025, 3, 1))[:3])
    year, next_year = _utc_ms(2025, 1, 1), _utc_ms(2026, 1, 1)
    for zone in {reader.tz, upstream.tz}:
        marks.update(ms for ms, _ in offset_table(zone)[1] if year <= ms < next_year)
    out: set[int] = set()
    if reader.grid.unit in ("week", "month"):
        out.update(grid_ms(reader, _utc_ms(2024, 12, 1), _utc_ms(2026, 2, 1)))
    else:
        # a few days around each mark: a week boundary, the DST change itself, the month start
        days = (3 if reader.grid.unit in ("minute", "hour") else 10) * _DAY_MS
        for mark in marks:
            out.update(grid_ms(reader, mark - days, mark + days))
    return tuple(sorted(out))


def describe(timing: Timing) -> str:
    """Human text for comments and messages, e.g. `day sessions (Asia/Tokyo)`."""
    if timing.grid is None:
        return "no schedule"
    adverb = {"minute": "minutely", "hour": "hourly", "day": "daily", "week": "weekly", "month": "monthly"}
    return f"{adverb.get(timing.grid.unit or '', 'irregularly')} sessions ({timing.tz})"


# --- what the plan records ------------------------------------------------------------------------

SAME, PREVIOUS, COMPUTED = "same", "previous", "computed"


@dataclass(frozen=True, slots=True)
class Required:
    """Which upstream sessions one reader session requires, as the plan records it.

    kind: `same` (the reader's own session time: a require> with no session_time), `previous` (the
    reader's previous own session, Digdag's `last_session_time`) or `computed` (the sessions `need`
    computes). most: the largest number of upstream sessions one reader session requires."""

    kind: str
    need: Need
    most: int

    @property
    def loops(self) -> bool:
        """True when a reader session may need other than exactly one session: a loop> of require>s."""
        return self.kind == COMPUTED and self.need.count != 1


@lru_cache(maxsize=4096)
def required_sessions(reader: Timing, upstream: Timing) -> Required:
    """What a reader timed `reader` requires of an upstream timed `upstream` (Unaligned when nothing can)."""
    need = need_for(reader, upstream)
    if upstream.grid is None:
        return Required(SAME, need, 1)  # an unscheduled upstream runs for the reader's own session time
    if reader.grid is None:
        return Required(COMPUTED, need, 1)
    profile = _profile(reader, upstream)
    need = _simplified(need, profile)
    if need.count == 1 and profile.firsts == profile.samples:
        return Required(SAME, need, 1)
    if (need.count == 1 and reader.grid.unit in ("day", "week", "month")
            and all(f == _previous_ms(reader, t) for f, t in zip(profile.firsts, profile.samples, strict=True))):
        return Required(PREVIOUS, need, 1)
    return Required(COMPUTED, need, max(profile.clamped, default=1))


def _previous(timing: Timing, t: datetime) -> datetime:
    return to_datetime(timing.tz, _previous_ms(timing, _to_ms(t)))


def _previous_ms(timing: Timing, t: int) -> int:
    """The session before the one at t (epoch ms) on a regular grid."""
    assert timing.grid is not None
    amount, unit = _step(timing.grid)
    return _shift(timing.tz, t, -amount, unit)


def _simplified(need: Need, profile: _Profile) -> Need:
    """The need without the floor operations that change nothing for any sampled reader session: a Tokyo
    midnight is already on a UTC hourly grid, and the expression a reviewer reads should not say more."""

    def same(first: tuple[Op, ...]) -> bool:  # the same sessions as `profile` for every sample
        for t, want, count, limit in zip(profile.samples, profile.firsts, profile.clamped, profile.limits,
                                         strict=True):
            zone, got = _apply(first, t)
            if got == want:
                continue
            # Another first session still gives the same (empty) list when no session is needed: always for a
            # constant count of 0, else when the other first lies at or after the limit too.
            if count == 0 and (need.count is not None or _steps_before(zone, got, need.step, limit) == 0):
                continue
            return False
        return True

    for index in reversed(range(len(need.first))):
        if need.first[index][0] != "floor":
            continue
        shorter = need.first[:index] + need.first[index + 1:]
        if same(shorter):
            need = Need(first=shorter, step=need.step, count=need.count, bound=need.bound,
                        now_offset_seconds=need.now_offset_seconds)
    first: list[Op] = []
    for op in need.first:  # a zone switch to the zone already in force says nothing
        zone = next((o[1] for o in reversed(first) if o[0] == "tz"), None)
        if not (op[0] == "tz" and op[1] == zone):
            first.append(op)
    return Need(first=tuple(first), step=need.step, count=need.count, bound=need.bound,
                now_offset_seconds=need.now_offset_seconds)
