"""Digdag's 5-field cron patterns (cron4j's dialect): the one parser, for validation and for evaluation.

`min hour day month weekday`: numbers, names (jan..dec, sun..sat), `*`, lists, ranges (a range such as
fri-mon wraps around the end of its field), steps, and `L` (the last day) in the day-of-month field.
Weekday 7 is Sunday, as 0 is. Like cron4j, the day-of-month and day-of-week fields must both match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FIELD_RE = re.compile(r"^[0-9A-Za-z*/,\-]+$")
# (lowest, highest, names, value of the first name) of each field
_FIELDS: tuple[tuple[int, int, tuple[str, ...] | None, int], ...] = (
    (0, 59, None, 0), (0, 23, None, 0), (1, 31, None, 0), (1, 12, MONTHS, 1), (0, 7, DAYS, 0))


class CronSyntaxError(ValueError):
    """A cron pattern that does not parse; the message quotes the pattern."""


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
    """Parse `min hour day month weekday`; CronSyntaxError names the part that is wrong."""
    fields = text.split()
    if len(fields) != 5:
        raise CronSyntaxError(f"expected a 5-field cron expression (min hour day month weekday), got {text!r}")
    (minutes, _), (hours, _), (days, last), (months, _), (weekdays, _) = (
        _field(field, index, text) for index, field in enumerate(fields))
    return CronPattern(minutes=minutes, hours=hours, days=days, last_day=last, months=months,
                       weekdays=frozenset(d % 7 for d in weekdays))


def _field(text: str, index: int, whole: str) -> tuple[frozenset[int], bool]:
    low, high, names, first_name = _FIELDS[index]
    if not _FIELD_RE.match(text):
        raise CronSyntaxError(f"invalid cron field {text!r} in {whole!r}")
    values: set[int] = set()
    last = False
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        if step_text and (not step_text.isdigit() or int(step_text) == 0):
            raise CronSyntaxError(f"invalid step {step_text!r} in cron {whole!r}")
        step = int(step_text) if step_text else 1
        if index == 2 and base.upper() == "L":
            last = True
            continue
        if base == "*":
            start, stop = low, high
        else:
            bounds = [_value(bound, low, high, names, first_name, whole) for bound in base.split("-", 1)]
            start, stop = bounds[0], bounds[-1] if len(bounds) == 2 or not step_text else high
        span = ([*range(start, stop + 1)] if start <= stop
                else [*range(start, high + 1), *range(low, stop + 1)])
        values.update(span[::step])
    return frozenset(values), last


def _value(text: str, low: int, high: int, names: tuple[str, ...] | None, first_name: int, whole: str) -> int:
    if text.isdigit():
        if not low <= int(text) <= high:
            raise CronSyntaxError(f"{text} is out of range {low}-{high} in cron {whole!r}")
        return int(text)
    if names and text.lower() in names:
        return names.index(text.lower()) + first_name
    raise CronSyntaxError(f"invalid cron value {text!r} in {whole!r}")
