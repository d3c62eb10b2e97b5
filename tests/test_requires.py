"""The require> session arithmetic: exact cases from the issue, and invariants over many schedule pairs."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from gen.requires import (
    Timing,
    Unaligned,
    _floor,
    evaluate,
    grid_sessions,
    is_clamped,
    need_for,
    sessions,
    window,
)
from gen.schedule import parse_schedule

TOKYO = ZoneInfo("Asia/Tokyo")


def timing(spec, tz="Asia/Tokyo", window="current"):  # type: ignore[no-untyped-def]
    schedule = parse_schedule(spec, where="test")
    return Timing(schedule.grid, tz, schedule.delay_seconds, window)


def test_hourly_reader_of_daily_table_requires_that_days_session() -> None:
    hourly, daily = timing({"hourly>": "10:00"}), timing({"daily>": "07:00:00"})
    need = need_for(hourly, daily)
    assert need.count == 1
    t = datetime(2024, 3, 2, 5, 0, tzinfo=TOKYO)
    assert sessions(need, t) == [datetime(2024, 3, 2, 0, 0, tzinfo=TOKYO)]
    from gen import expressions
    from gen.requires import required_sessions
    assert expressions.session_time(required_sessions(hourly, daily), None) == (
        "${moment(session_time).utcOffset(540).startOf('day').format('YYYY-MM-DDTHH:mm:ssZ')}")


def test_daily_reader_of_hourly_table_never_starts_the_evening_sessions() -> None:
    daily, hourly = timing({"daily>": "07:00:00"}), timing({"hourly>": "10:00"})
    need = need_for(daily, hourly)
    t = datetime(2024, 3, 2, tzinfo=TOKYO)
    required = sessions(need, t)
    assert max(required) <= t + timedelta(hours=7)
    assert len(required) == 8  # 00:00 .. 07:00 have come at 07:00; 08:00 .. 23:00 have not
    assert is_clamped(daily, hourly)


def test_daily_previous_window_reads_all_of_yesterdays_hours() -> None:
    daily, hourly = timing({"daily>": "07:00:00"}, window="previous"), timing({"hourly>": "10:00"})
    need = need_for(daily, hourly)
    assert need.count == 24
    t = datetime(2024, 3, 2, tzinfo=TOKYO)
    assert sessions(need, t)[0] == datetime(2024, 3, 1, tzinfo=TOKYO)
    assert sessions(need, t)[-1] == datetime(2024, 3, 1, 23, tzinfo=TOKYO)
    assert not is_clamped(daily, hourly)


def test_dst_day_has_23_hourly_sessions() -> None:
    daily = timing({"daily>": "01:00:00"}, tz="America/New_York", window="previous")
    hourly = timing({"hourly>": "05:00"}, tz="America/New_York")
    need = need_for(daily, hourly)
    assert need.count is None  # 23, 24 or 25: computed at run time
    ny = ZoneInfo("America/New_York")
    assert len(sessions(need, datetime(2025, 3, 10, tzinfo=ny))) == 23
    assert len(sessions(need, datetime(2025, 11, 3, tzinfo=ny))) == 25
    assert len(sessions(need, datetime(2025, 6, 3, tzinfo=ny))) == 24


def test_unaligned_cron_pairs_are_reported() -> None:
    odd = timing({"cron>": "0 9,18 * * *"})
    daily = timing({"daily>": "01:00:00"})
    try:
        need_for(odd, daily)
    except Unaligned:
        pass
    else:  # pragma: no cover
        raise AssertionError("expected Unaligned")


SPECS = [
    {"hourly>": "10:00"}, {"hourly>": "00:00"}, {"daily>": "07:00:00"}, {"daily>": "00:30:00"},
    {"weekly>": "Mon,02:00:00"}, {"monthly>": "1,03:00:00"}, {"minutes_interval>": 15},
    {"cron>": "15 3 * * *"}, {"cron>": "30 * * * *"}, {"cron>": "0 9 * * 1"},
]
ZONES = ["UTC", "Asia/Tokyo", "America/New_York", "Asia/Kolkata", "Europe/London"]
timings = st.builds(timing, st.sampled_from(SPECS), st.sampled_from(ZONES), st.sampled_from(["current", "previous"]))


@settings(max_examples=300, deadline=None)
@given(reader=timings, upstream=timings, day=st.integers(0, 730), minute=st.integers(0, 24 * 60 - 1))
def test_invariants_hold_for_every_pair(reader: Timing, upstream: Timing, day: int, minute: int) -> None:
    base = datetime(2024, 1, 1, tzinfo=ZoneInfo("UTC")) + timedelta(days=day, minutes=minute)
    t = evaluate(_floor(reader, ()), base)  # a real session time of the reader
    need = need_for(reader, upstream)
    required = sessions(need, t)
    now = t + timedelta(seconds=reader.delay_seconds)
    r_start, r_end = window(reader, t)
    for s in required:
        # 1. only sessions the upstream's own schedule creates
        assert evaluate(_floor(upstream, ()), s) == s, (s, "not on the upstream grid")
        # 2. never a session whose time has not come by the reader's run time
        assert s <= now
        # 3. each overlaps the reader's data window
        u_start, u_end = window(upstream, s)
        assert u_start < r_end and u_end > r_start
    # 4. and none is missing
    candidates = grid_sessions(upstream, r_start - timedelta(days=40), r_end + timedelta(days=40))
    expected = [s for s in candidates if s <= now and window(upstream, s)[0] < r_end and window(upstream, s)[1] > r_start]
    assert required == expected


# --- the expressions Digdag evaluates give exactly the Python answer --------------------------------

from gen import expressions  # noqa: E402
from gen.requires import COMPUTED, PREVIOUS, SAME, required_sessions  # noqa: E402
from tests.jsrun import node_eval  # noqa: E402
from tests.session_cases import cases  # noqa: E402


def test_generated_expressions_match_python_including_dst_days() -> None:
    items = cases()
    assert len(items) > 1000
    kinds = {e.expr.split("(")[0][:14] for e in items}
    assert {"${session_time", "${last_session", "${moment", "${eval"} <= kinds, kinds
    got = node_eval(items)
    mismatches = [(c.expr[-150:], c.session_time, c.i, c.expected, g) for c, g in zip(items, got, strict=True)
                  if c.expected != g]
    assert not mismatches, mismatches[:5]


def test_a_require_of_the_readers_own_session_has_no_session_time() -> None:
    daily = timing({"daily>": "07:00:00"}, "Asia/Tokyo")
    later = timing({"daily>": "08:30:00"}, "Asia/Tokyo")
    required = required_sessions(later, daily)
    assert required.kind == SAME and expressions.session_time(required, None) is None
    unscheduled = Timing(None, "UTC", 0, "current")
    assert required_sessions(later, unscheduled).kind == SAME


def test_the_previous_own_session_is_last_session_time() -> None:
    reader = timing({"daily>": "09:00:00"}, "America/New_York", window="previous")
    required = required_sessions(reader, timing({"daily>": "07:00:00"}, "America/New_York"))
    assert required.kind == PREVIOUS
    assert expressions.session_time(required, None) == "${last_session_time}"


def test_fixed_offset_zones_get_a_short_moment_chain() -> None:
    reader = timing({"daily>": "07:00:00"}, "Asia/Tokyo", window="previous")
    required = required_sessions(reader, timing({"hourly>": "10:00"}, "UTC"))
    assert required.kind == COMPUTED and required.most == 24
    assert expressions.session_time(required, "i") == (
        "${moment(session_time).utcOffset(540).subtract(1, 'days').utcOffset(0).add(i, 'hours')"
        ".format('YYYY-MM-DDTHH:mm:ssZ')}")
    assert expressions.session_count(required) == "24"
    assert not expressions.uses_library(required)


def test_dst_zones_call_the_shared_library_in_one_short_line() -> None:
    reader = timing({"daily>": "02:00:00"}, "America/New_York", window="previous")
    required = required_sessions(reader, timing({"hourly>": "05:00"}, "America/New_York"))
    assert expressions.uses_library(required) and required.most == 25
    assert expressions.session_time(required, "i") == (
        "${eval(gen_sessions).at(session_time, ['America/New_York', [-1, 'days']], [1, 'hours'], i)}")
    assert expressions.session_count(required).startswith("${eval(gen_sessions).count(session_time, ")
    assert len(expressions.session_count(required)) < 160


def test_grid_matches_the_iana_calendar_on_dst_days() -> None:
    ny = ZoneInfo("America/New_York")
    daily = timing({"daily>": "01:00:00"}, tz="America/New_York")
    got = grid_sessions(daily, datetime(2025, 3, 7, tzinfo=ny), datetime(2025, 3, 12, tzinfo=ny))
    assert got == [datetime(2025, 3, d, tzinfo=ny) for d in range(7, 12)]
    assert [g.utcoffset() for g in got] == [datetime(2025, 3, d, tzinfo=ny).utcoffset() for d in range(7, 12)]
    cron = timing({"cron>": "15 3 * * *"}, tz="America/New_York")
    got = grid_sessions(cron, datetime(2025, 3, 8, tzinfo=ny), datetime(2025, 3, 11, tzinfo=ny))
    assert got == [datetime(2025, 3, d, 3, 15, tzinfo=ny) for d in (8, 9, 10)]


def test_what_the_plan_records_gives_the_full_arithmetic_over_two_years() -> None:
    """The plan drops floors that change nothing on its samples; over every third reader session of two
    years (DST changes, month and year ends included) the recorded need gives the sessions need_for does."""
    from tests.session_cases import pairs
    for reader, upstream in pairs():
        if reader.grid is None or upstream.grid is None:
            continue
        full, recorded = need_for(reader, upstream), required_sessions(reader, upstream).need
        step = 3 if reader.grid.unit in ("day", "week", "month") else 97
        for t in grid_sessions(reader, datetime(2024, 1, 1, tzinfo=ZoneInfo("UTC")),
                               datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")))[::step]:
            assert sessions(recorded, t) == sessions(full, t), (reader, upstream, t)
