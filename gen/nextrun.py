"""When a Digdag schedule next runs: a small evaluator of Digdag's cron-with-delay model. Pure.

Digdag turns every schedule into a cron pattern plus a delay (gen.schedule.Schedule.cron and
delay_seconds), matched minute by minute in the workflow's timezone by cron4j. A match is a session
time; the run starts `delay` seconds later. The first run Digdag schedules from a moment `now` is the
earliest session whose run time is at or after `now`. Like cron4j, the day-of-month and day-of-week
fields must both match (not either, as in Vixie cron); `L` in the day-of-month field is the last day.
Wall-clock times that a DST change skips are not sessions; a repeated hour counts once (its first
occurrence). `start:` and `end:` are dates in the workflow's timezone, both inclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gen.schedule import Schedule

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# Long enough for the rarest pattern cron allows (29 February on a given weekday recurs within 28 years).
_HORIZON_DAYS = 29 * 366


@dataclass(frozen=True, slots=True)
class NextRun:
    """One upcoming session of a schedule: its session time and the moment it starts (both aware)."""

    session_time: datetime
    run_at: datetime


@dataclass(frozen=True, slots=True)
class CronPattern:
    """A parsed 5-field cron pattern: the allowed values of each field."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    last_day: bool
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday

    def matches_day(self, day: date) -> bool:
        """True when the date's month, day of month and weekday all match."""
        if day.month not in self.months or (day.isoweekday() % 7) not in self.weekdays:
            return False
        if day.day in self.days:
            return True
        return self.last_day and (day + timedelta(days=1)).month != day.month


def parse_cron(text: str) -> CronPattern:
    """Parse `min hour day month weekday` (numbers, names, `*`, lists, ranges, steps, `L`)."""
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 cron fields, got {text!r}")
    minute, hour, dom, month, dow = fields
    days, last = _field(dom, 1, 31, None, allow_last=True)
    weekdays, _ = _field(dow, 0, 7, _DAYS)
    return CronPattern(
        minutes=_field(minute, 0, 59, None)[0], hours=_field(hour, 0, 23, None)[0], days=days, last_day=last,
        months=_field(month, 1, 12, _MONTHS, first_name=1)[0],
        weekdays=frozenset(d % 7 for d in weekdays))


def _field(text: str, low: int, high: int, names: tuple[str, ...] | None, *, allow_last: bool = False,
           first_name: int = 0) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    last = False
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step <= 0:
            raise ValueError(f"invalid step in cron field {text!r}")
        if allow_last and base.upper() == "L":
            last = True
            continue
        if base == "*":
            start, stop = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, stop = _value(a, names, first_name), _value(b, names, first_name)
        else:
            start = _value(base, names, first_name)
            stop = high if step_text else start
        if not (low <= start <= high and low <= stop <= high):
            raise ValueError(f"cron field {text!r} is out of range {low}-{high}")
        # A range such as fri-mon wraps around the end of the field.
        span = ([*range(start, stop + 1)] if start <= stop
                else [*range(start, high + 1), *range(low, stop + 1)])
        values.update(span[::step])
    return frozenset(values), last


def _value(text: str, names: tuple[str, ...] | None, first_name: int) -> int:
    if text.isdigit():
        return int(text)
    if names and text.lower() in names:
        return names.index(text.lower()) + first_name
    raise ValueError(f"invalid cron value {text!r}")


def next_run(schedule: Schedule, zone: str, now: datetime) -> NextRun | None:
    """The first session whose run starts at or after `now` (None when `end:` has passed)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    tz = ZoneInfo(zone)
    pattern = parse_cron(schedule.cron)
    delay = timedelta(seconds=schedule.delay_seconds)
    options = dict(schedule.options)
    earliest = now - delay
    day = earliest.astimezone(tz).date() - timedelta(days=1)  # a repeated hour can reach back a day
    if "start" in options:
        day = max(day, date.fromisoformat(options["start"]))
    last_day = date.fromisoformat(options["end"]) if "end" in options else None
    for _ in range(_HORIZON_DAYS):
        if last_day is not None and day > last_day:
            return None
        if pattern.matches_day(day):
            for hour in sorted(pattern.hours):
                for minute in sorted(pattern.minutes):
                    session = _existing(datetime.combine(day, time(hour, minute)), tz)
                    if session is not None and session >= earliest:
                        return NextRun(session_time=session, run_at=(session + delay).astimezone(tz))
        day += timedelta(days=1)
    return None


def _existing(wall: datetime, tz: ZoneInfo) -> datetime | None:
    """The aware time for a wall-clock time, or None when a DST change skips it."""
    aware = wall.replace(tzinfo=tz, fold=0)
    back = aware.astimezone(UTC).astimezone(tz)
    return aware if back.replace(tzinfo=None) == wall else None


def parse_now(text: str) -> datetime:
    """An ISO 8601 moment for --now; a time without an offset is taken as UTC."""
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
