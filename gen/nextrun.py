"""When a Digdag schedule next runs: a small evaluator of Digdag's cron-with-delay model. Pure.

Digdag turns every schedule into a cron pattern plus a delay (gen.schedule.Schedule.cron and
delay_seconds), matched minute by minute in the workflow's timezone by cron4j (gen.cron parses the
pattern). A match is a session time; the run starts `delay` seconds later. The first run Digdag
schedules from a moment `now` is the earliest session whose run time is at or after `now`.
Wall-clock times that a DST change skips are not sessions; a repeated hour counts once (its first
occurrence). `start:` and `end:` are dates in the workflow's timezone, both inclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gen.cron import parse_cron
from gen.schedule import Schedule

# Long enough for the rarest pattern cron allows (29 February on a given weekday recurs within 28 years).
_HORIZON_DAYS = 29 * 366


@dataclass(frozen=True, slots=True)
class NextRun:
    """One upcoming session of a schedule: its session time and the moment it starts (both aware)."""

    session_time: datetime
    run_at: datetime


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
