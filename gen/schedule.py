"""Digdag schedules: parse and validate every form, and describe the session grid each one creates.

Digdag turns every schedule into a cron pattern plus a delay: `daily>: 07:00:00` fires at 00:00 with a
07:00:00 delay, so the session time is midnight and the run starts at 07:00. The grid here is the set
of session times a schedule creates; plan.py aligns readers and writers on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from gen.cron import DAYS, CronPattern, CronSyntaxError, parse_cron
from gen.errors import ScheduleError

KINDS = ("hourly", "daily", "weekly", "monthly", "minutes_interval", "cron")
OPTION_KEYS = frozenset({"start", "end", "skip_on_overtime", "skip_delayed_by", "delay"})
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DURATION_RE = re.compile(r"^\s*(?:\d+\s*[dhms]\s*)+$")


@dataclass(frozen=True, slots=True)
class Grid:
    """The regular grid of session times a schedule creates, or unit=None when it has none.

    unit: "minute" (every `step` minutes from the hour), "hour", "day", "week" (on `weekday`, 0=Sunday),
    "month" (on day `monthday`); phase_minutes: minutes from the unit's start to each session time.
    """

    unit: str | None
    step: int = 1
    phase_minutes: int = 0
    weekday: int = 0
    monthday: int = 1

    @property
    def regular(self) -> bool:
        """True when session times can be computed by calendar arithmetic."""
        return self.unit is not None

    def approx_seconds(self) -> int:
        """The period in seconds (a month counts as 31 days) for ordering grids by coarseness."""
        sizes = {"minute": 60 * self.step, "hour": 3600, "day": 86400, "week": 7 * 86400, "month": 31 * 86400}
        return sizes.get(self.unit or "", 0)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A validated Digdag schedule: `kind>: value` plus options, and the grid and delay it implies."""

    kind: str
    value: str
    options: tuple[tuple[str, Any], ...]
    cron: str
    delay_seconds: int
    grid: Grid

    def directive(self) -> dict[str, Any]:
        """The mapping rendered under `schedule:` in a .dig file, options sorted."""
        out: dict[str, Any] = {f"{self.kind}>": self.value}
        out.update(dict(self.options))
        return out

    def describe(self) -> str:
        """Short human form, e.g. `daily>: 07:00:00`."""
        extra = "".join(f", {k}: {v}" for k, v in self.options)
        return f"{self.kind}>: {self.value}{extra}"


def validate_timezone(value: Any, *, where: str) -> str:
    """Return an IANA timezone name, or raise naming where it came from."""
    if not isinstance(value, str) or not value.strip():
        raise ScheduleError(f"timezone must be a name such as Asia/Tokyo or UTC, got {value!r}", source=where)
    name = value.strip()
    if name not in _zones():
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ScheduleError(f"unknown timezone {name!r} (expected an IANA name such as Asia/Tokyo)",
                                source=where) from e
    return name


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
        _ZONES.add("UTC")
    return _ZONES


def parse_schedule(spec: Any, *, where: str) -> Schedule | None:
    """Parse `{daily>: "07:00:00", start: ...}`; None/"none"/false means explicitly unscheduled."""
    if spec is None or spec is False or (isinstance(spec, str) and spec.strip().lower() in ("none", "")):
        return None
    if not isinstance(spec, dict):
        raise ScheduleError(
            f"schedule must be a mapping like {{daily>: '07:00:00'}}, got {type(spec).__name__} {spec!r}",
            source=where)
    kinds = [k for k in spec if isinstance(k, str) and k.endswith(">")]
    unknown = sorted(str(k) for k in spec if k not in OPTION_KEYS and k not in kinds)
    if unknown:
        raise ScheduleError(f"unknown schedule key(s) {', '.join(map(repr, unknown))}; expected one of "
                            f"{', '.join(k + '>' for k in KINDS)} and options {', '.join(sorted(OPTION_KEYS))}",
                            source=where)
    if len(kinds) != 1:
        raise ScheduleError(f"schedule needs exactly one of {', '.join(k + '>' for k in KINDS)}, got "
                            f"{len(kinds)}", source=where)
    kind = kinds[0][:-1]
    if kind not in KINDS:
        raise ScheduleError(f"unknown schedule type {kinds[0]!r}; expected one of "
                            f"{', '.join(k + '>' for k in KINDS)}", source=where)
    parser = _PARSERS[kind]
    value, cron, delay, grid = parser(spec[kinds[0]], f"{where}: {kinds[0]}")
    options = _options(spec, kind, where)
    if kind == "cron" and "delay" in dict(options):
        delay = int(dict(options)["delay"])
    return Schedule(kind=kind, value=value, options=options, cron=cron, delay_seconds=delay, grid=grid)


def _options(spec: dict[str, Any], kind: str, where: str) -> tuple[tuple[str, Any], ...]:
    out: list[tuple[str, Any]] = []
    for key in sorted(k for k in spec if k in OPTION_KEYS):
        value = spec[key]
        if key in ("start", "end"):
            text = value.isoformat() if hasattr(value, "isoformat") else value
            if not isinstance(text, str) or not _DATE_RE.match(text):
                raise ScheduleError(f"{key} must be a date YYYY-MM-DD, got {value!r}", source=where)
            out.append((key, text))
        elif key == "skip_on_overtime":
            if not isinstance(value, bool):
                raise ScheduleError(f"skip_on_overtime must be true or false, got {value!r}", source=where)
            out.append((key, value))
        elif key == "skip_delayed_by":
            if not isinstance(value, str) or not _DURATION_RE.match(value):
                raise ScheduleError(f"skip_delayed_by must be a duration like 1h, 30m or 1h30m, got {value!r}",
                                    source=where)
            out.append((key, value.strip()))
        elif key == "delay":
            if kind != "cron":
                raise ScheduleError("delay is only valid with cron>; the other forms carry their own time",
                                    source=where)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ScheduleError(f"delay must be a whole number of seconds >= 0, got {value!r}", source=where)
            out.append((key, value))
    dates = dict(out)
    if "start" in dates and "end" in dates and dates["start"] > dates["end"]:
        raise ScheduleError(f"start {dates['start']} is after end {dates['end']}", source=where)
    return tuple(out)


def _clock(value: Any, parts: int, where: str, form: str) -> tuple[str, list[int]]:
    """Parse HH:MM:SS / MM:SS. YAML 1.1 loaders (dbt's) read an unquoted 07:00:00 as 25200 and 10:00 as 600,
    so take those ints too; but an unquoted 7:00 becomes 420, which is also what 0:07:00 becomes, so a
    number that a two-part time can give is refused rather than guessed."""
    if isinstance(value, bool):
        raise ScheduleError(f"expected {form}, got {value!r}", source=where)
    if isinstance(value, int) and parts == 3 and 0 < value < 24 * 60:
        hours, minutes = divmod(value, 60)
        raise ScheduleError(f"got the number {value}, which is how YAML reads an unquoted {hours}:{minutes:02d} "
                            f"(and an unquoted 0:{hours:02d}:{minutes:02d}); quote the time, e.g. "
                            f"\"{hours:02d}:{minutes:02d}:00\"", source=where)
    if isinstance(value, int):
        seconds = value
        nums = [seconds // 3600, seconds % 3600 // 60, seconds % 60] if parts == 3 else [seconds // 60, seconds % 60]
    elif isinstance(value, str) and re.fullmatch(rf"\d{{1,2}}(:\d{{1,2}}){{{parts - 1}}}", value.strip()):
        nums = [int(p) for p in value.strip().split(":")]
    else:
        raise ScheduleError(f"expected {form}, got {value!r}", source=where)
    limits = [24, 60, 60] if parts == 3 else [60, 60]
    for num, limit in zip(nums, limits, strict=True):
        if not 0 <= num < limit:
            raise ScheduleError(f"{value!r} is out of range for {form}", source=where)
    return ":".join(f"{n:02d}" for n in nums), nums


def _hourly(value: Any, where: str) -> tuple[str, str, int, Grid]:
    text, (mm, ss) = _clock(value, 2, where, "MM:SS")
    return text, "0 * * * *", mm * 60 + ss, Grid("hour")


def _daily(value: Any, where: str) -> tuple[str, str, int, Grid]:
    text, (hh, mm, ss) = _clock(value, 3, where, "HH:MM:SS")
    return text, "0 0 * * *", hh * 3600 + mm * 60 + ss, Grid("day")


def _day_and_clock(value: Any, where: str, form: str) -> tuple[str, str]:
    if not isinstance(value, str) or value.count(",") != 1:
        raise ScheduleError(f"expected {form}, got {value!r}", source=where)
    day, clock = (p.strip() for p in value.split(","))
    return day, clock


def _weekly(value: Any, where: str) -> tuple[str, str, int, Grid]:
    day, clock = _day_and_clock(value, where, "DAY,HH:MM:SS (e.g. Sun,09:00:00)")
    lowered = day.lower()[:3]
    if day.isdigit() and 0 <= int(day) <= 6:
        weekday = int(day)
    elif lowered in DAYS and day.lower() in (lowered, _full_day(lowered)):
        weekday = DAYS.index(lowered)
    else:
        raise ScheduleError(f"unknown day {day!r} in {value!r}; expected Sun..Sat or 0..6", source=where)
    text, (hh, mm, ss) = _clock(clock, 3, where, "DAY,HH:MM:SS")
    name = DAYS[weekday].capitalize()
    return f"{name},{text}", f"0 0 * * {weekday}", hh * 3600 + mm * 60 + ss, Grid("week", weekday=weekday)


def _full_day(short: str) -> str:
    return {"sun": "sunday", "mon": "monday", "tue": "tuesday", "wed": "wednesday", "thu": "thursday",
            "fri": "friday", "sat": "saturday"}[short]


def _monthly(value: Any, where: str) -> tuple[str, str, int, Grid]:
    day, clock = _day_and_clock(value, where, "D,HH:MM:SS (e.g. 1,09:00:00)")
    if not day.isdigit() or not 1 <= int(day) <= 31:
        raise ScheduleError(f"day {day!r} in {value!r} must be 1..31", source=where)
    text, (hh, mm, ss) = _clock(clock, 3, where, "D,HH:MM:SS")
    dom = int(day)
    # Days 29-31 are missing from some months: cron skips those months, so the grid is irregular.
    grid = Grid("month", monthday=dom) if dom <= 28 else Grid(None)
    return f"{dom},{text}", f"0 0 {dom} * *", hh * 3600 + mm * 60 + ss, grid


def _minutes_interval(value: Any, where: str) -> tuple[str, str, int, Grid]:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 59:
        raise ScheduleError(f"expected a whole number of minutes from 1 to 59, got {value!r}", source=where)
    # Digdag runs */M in the minute field: the grid restarts every hour, so it is regular only when M divides 60.
    grid = Grid("minute", step=value) if 60 % value == 0 else Grid(None)
    return str(value), f"*/{value} * * * *", 0, grid


def _cron(value: Any, where: str) -> tuple[str, str, int, Grid]:
    if not isinstance(value, str):
        raise ScheduleError(f"expected a 5-field cron expression, got {value!r}", source=where)
    try:
        pattern = parse_cron(value)
    except CronSyntaxError as e:
        raise ScheduleError(str(e), source=where) from e
    fields = value.split()
    text = " ".join(fields)
    return text, text, 0, _cron_grid(fields, pattern)


def _single(values: frozenset[int]) -> int:
    (value,) = values
    return value


def _cron_grid(fields: list[str], pattern: CronPattern) -> Grid:
    """The grid of the cron shapes gen treats as regular (a plain number or `*` in each field, or `*/N`
    minutes); any other pattern has none."""
    minute, hour, dom, month, dow = fields
    if re.fullmatch(r"\*/\d+", minute) and (hour, dom, month, dow) == ("*", "*", "*", "*"):
        step = int(minute[2:])
        return Grid("minute", step=step) if 60 % step == 0 else Grid(None)
    if not minute.isdigit() or month != "*":
        return Grid(None)
    if hour == "*" and dom == "*" and dow == "*":
        return Grid("hour", phase_minutes=_single(pattern.minutes))
    if not hour.isdigit():
        return Grid(None)
    phase = _single(pattern.hours) * 60 + _single(pattern.minutes)
    if dom == "*" and dow == "*":
        return Grid("day", phase_minutes=phase)
    if dom == "*" and (dow.isdigit() or dow.lower() in DAYS):
        return Grid("week", phase_minutes=phase, weekday=_single(pattern.weekdays))
    if dow == "*" and dom.isdigit() and int(dom) <= 28:
        return Grid("month", phase_minutes=phase, monthday=_single(pattern.days))
    return Grid(None)


_PARSERS = {"hourly": _hourly, "daily": _daily, "weekly": _weekly, "monthly": _monthly,
            "minutes_interval": _minutes_interval, "cron": _cron}

