from __future__ import annotations

import pytest

from gen.config import load_config
from gen.errors import ScheduleError
from gen.schedule import Grid, parse_schedule, validate_timezone


@pytest.mark.parametrize(("spec", "kind", "value", "delay", "grid"), [
    ({"hourly>": "30:00"}, "hourly", "30:00", 1800, Grid("hour")),
    ({"hourly>": 1800}, "hourly", "30:00", 1800, Grid("hour")),  # YAML 1.1 sexagesimal
    ({"daily>": "07:00:00"}, "daily", "07:00:00", 25200, Grid("day")),
    ({"daily>": 25200}, "daily", "07:00:00", 25200, Grid("day")),
    ({"weekly>": "Sun,09:00:00"}, "weekly", "Sun,09:00:00", 32400, Grid("week", weekday=0)),
    ({"weekly>": "monday,01:00:00"}, "weekly", "Mon,01:00:00", 3600, Grid("week", weekday=1)),
    ({"weekly>": "3,01:00:00"}, "weekly", "Wed,01:00:00", 3600, Grid("week", weekday=3)),
    ({"monthly>": "1,09:00:00"}, "monthly", "1,09:00:00", 32400, Grid("month", monthday=1)),
    ({"monthly>": "31,09:00:00"}, "monthly", "31,09:00:00", 32400, Grid(None)),
    ({"minutes_interval>": 30}, "minutes_interval", "30", 0, Grid("minute", step=30)),
    ({"minutes_interval>": 7}, "minutes_interval", "7", 0, Grid(None)),
    ({"cron>": "15 3 * * *"}, "cron", "15 3 * * *", 0, Grid("day", phase_minutes=195)),
    ({"cron>": "0 * * * *", "delay": 60}, "cron", "0 * * * *", 60, Grid("hour")),
    ({"cron>": "*/15 * * * *"}, "cron", "*/15 * * * *", 0, Grid("minute", step=15)),
    ({"cron>": "0 9 * * mon"}, "cron", "0 9 * * mon", 0, Grid("week", phase_minutes=540, weekday=1)),
    ({"cron>": "0 0 1 * *"}, "cron", "0 0 1 * *", 0, Grid("month", monthday=1)),
    ({"cron>": "0 9,18 * * *"}, "cron", "0 9,18 * * *", 0, Grid(None)),
    ({"cron>": "42 4 1 * *"}, "cron", "42 4 1 * *", 0, Grid("month", phase_minutes=282, monthday=1)),
])
def test_every_form_parses_with_its_grid(spec, kind, value, delay, grid):  # type: ignore[no-untyped-def]
    schedule = parse_schedule(spec, where="m.yml")
    assert schedule is not None
    assert (schedule.kind, schedule.value, schedule.delay_seconds, schedule.grid) == (kind, value, delay, grid)
    assert schedule.directive()[f"{kind}>"] == value


def test_options_are_validated_and_sorted() -> None:
    schedule = parse_schedule({"daily>": "01:00:00", "skip_on_overtime": True, "start": "2024-01-01",
                               "end": "2024-12-31", "skip_delayed_by": "1h30m"}, where="x")
    assert schedule is not None
    assert list(schedule.directive()) == ["daily>", "end", "skip_delayed_by", "skip_on_overtime", "start"]


@pytest.mark.parametrize(("spec", "message"), [
    ({"daily>": "25:00:00"}, "out of range"),
    ({"daily>": "7am"}, "expected HH:MM:SS"),
    ({"hourly>": "61:00"}, "out of range"),
    ({"weekly>": "Funday,01:00:00"}, "unknown day"),
    ({"monthly>": "0,01:00:00"}, "must be 1..31"),
    ({"minutes_interval>": 0}, "from 1 to 59"),
    ({"cron>": "nonsense"}, "5-field cron"),
    ({"cron>": "61 * * * *"}, "out of range 0-59"),
    ({"cron>": "0 0 * * funday"}, "invalid cron value"),
    ({"daily>": "01:00:00", "hourly>": "10:00"}, "exactly one"),
    ({"daily>": "01:00:00", "skip_on_overtme": True}, "unknown schedule key"),
    ({"yearly>": "01-01"}, "unknown schedule type"),
    ({"daily>": "01:00:00", "start": "tomorrow"}, "YYYY-MM-DD"),
    ({"daily>": "01:00:00", "start": "2024-02-01", "end": "2024-01-01"}, "is after end"),
    ({"daily>": "01:00:00", "skip_delayed_by": "soon"}, "duration"),
    ({"daily>": "01:00:00", "delay": 5}, "only valid with cron"),
    ("daily", "must be a mapping"),
])
def test_bad_schedules_name_the_source(spec, message):  # type: ignore[no-untyped-def]
    with pytest.raises(ScheduleError) as info:
        parse_schedule(spec, where="models/schema.yml: model orders")
    assert message in str(info.value)
    assert str(info.value).startswith("models/schema.yml: model orders")


@pytest.mark.parametrize("spec", [None, False, "none"])
def test_explicitly_unscheduled(spec):  # type: ignore[no-untyped-def]
    assert parse_schedule(spec, where="x") is None


def test_timezones() -> None:
    assert validate_timezone("Asia/Tokyo", where="x") == "Asia/Tokyo"
    assert validate_timezone("UTC", where="x") == "UTC"
    with pytest.raises(ScheduleError, match="unknown timezone 'Mars/Olympus'"):
        validate_timezone("Mars/Olympus", where="x")


@pytest.mark.parametrize(("text", "hint"), [("7:00", '"07:00:00"'), ("7:30", '"07:30:00"'), ("23:59", '"23:59:00"')])
def test_an_unquoted_hour_and_minute_is_refused_not_read_as_seconds(tmp_path, text: str, hint: str) -> None:  # type: ignore[no-untyped-def]
    import yaml
    (tmp_path / "gen.yml").write_text(f"schedule:\n  daily>: {text}\n")
    value = yaml.safe_load((tmp_path / "gen.yml").read_text())["schedule"]["daily>"]
    assert isinstance(value, int)  # what YAML 1.1 makes of it
    with pytest.raises(ScheduleError, match=f"unquoted {text}.*quote the time, e.g. {hint}"):
        load_config(tmp_path / "gen.yml", required=True)
    assert parse_schedule({"daily>": 25200}, where="m").describe() == "daily>: 07:00:00"  # unquoted 07:00:00
