"""The one cron parser: what each field allows, and the errors that name the wrong part."""

from __future__ import annotations

import pytest

from gen.cron import CronSyntaxError, parse_cron
from gen.errors import ScheduleError
from gen.schedule import parse_schedule


def test_every_form_of_field() -> None:
    pattern = parse_cron("*/20 9-17/4 1,15,L jan-mar sat-mon")
    assert pattern.minutes == {0, 20, 40}
    assert pattern.hours == {9, 13, 17}
    assert pattern.days == {1, 15} and pattern.last_day
    assert pattern.months == {1, 2, 3}
    assert pattern.weekdays == {6, 0, 1}  # wraps around the week
    assert parse_cron("0 0 * * 7").weekdays == {0}  # 7 is Sunday too
    assert parse_cron("5/20 * * * *").minutes == {5, 25, 45}  # a start with a step runs to the end
    assert parse_cron("50-10 * * * *").minutes == {*range(50, 60), *range(0, 11)}


@pytest.mark.parametrize(("text", "message"), [
    ("0 0 * *", "expected a 5-field cron expression (min hour day month weekday), got '0 0 * *'"),
    ("61 * * * *", "61 is out of range 0-59 in cron '61 * * * *'"),
    ("0 0 0 * *", "0 is out of range 1-31 in cron '0 0 0 * *'"),
    ("0 0 * * funday", "invalid cron value 'funday' in '0 0 * * funday'"),
    ("0 0 * jan-x *", "invalid cron value 'x' in '0 0 * jan-x *'"),
    ("0 0 * * L", "invalid cron value 'L' in '0 0 * * L'"),
    ("*/0 * * * *", "invalid step '0' in cron '*/0 * * * *'"),
    ("*/x * * * *", "invalid step 'x' in cron '*/x * * * *'"),
    ("0 0 ? * *", "invalid cron field '?' in '0 0 ? * *'"),
    ("\u0661 0 * * *", "invalid cron field '\u0661' in '\u0661 0 * * *'"),  # a digit, but not ASCII
])
def test_a_bad_pattern_names_its_part(text: str, message: str) -> None:
    with pytest.raises(CronSyntaxError) as caught:
        parse_cron(text)
    assert str(caught.value) == message
    # the schedule a user writes is refused with the same words, naming where it came from
    with pytest.raises(ScheduleError) as refused:
        parse_schedule({"cron>": text}, where="gen.yml")
    assert str(refused.value) == f"gen.yml: cron>: {message}"
