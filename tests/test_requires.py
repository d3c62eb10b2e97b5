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
    js_session,
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
    expr = js_session(need, None)
    assert "z = 'Asia/Tokyo'; t = floor(z, t, 'day', 1, 0, 1, 0)" in expr


def test_daily_reader_of_hourly_table_never_starts_the_evening_sessions() -> None:
    daily, hourly = timing({"daily>": "07:00:00"}), timing({"hourly>": "10:00"})
    need = need_for(daily, hourly)
    t = datetime(2024, 3, 2, tzinfo=TOKYO)
    required = sessions(need, t)
    assert max(required) <= t + timedelta(hours=7)
    assert len(required) == 8  # 00:00 .. 07:00 have come at 07:00; 08:00 .. 23:00 have not
    assert is_clamped(daily, hourly, need)


def test_daily_previous_window_reads_all_of_yesterdays_hours() -> None:
    daily, hourly = timing({"daily>": "07:00:00"}, window="previous"), timing({"hourly>": "10:00"})
    need = need_for(daily, hourly)
    assert need.count == 24
    t = datetime(2024, 3, 2, tzinfo=TOKYO)
    assert sessions(need, t)[0] == datetime(2024, 3, 1, tzinfo=TOKYO)
    assert sessions(need, t)[-1] == datetime(2024, 3, 1, 23, tzinfo=TOKYO)
    assert not is_clamped(daily, hourly, need)


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


# --- the JavaScript Digdag evaluates gives exactly the Python answer ---------------------------------

from gen.requires import js_count, js_zone_tables  # noqa: E402
from tests.jsrun import node_eval  # noqa: E402


def _pairs():  # type: ignore[no-untyped-def]
    zones = ["UTC", "Asia/Tokyo", "America/New_York", "Asia/Kolkata", "Europe/London", "Australia/Sydney"]
    specs = SPECS
    for k in range(60):
        yield (timing(specs[k % len(specs)], zones[k % len(zones)], ["current", "previous"][k % 2]),
               timing(specs[(k * 7 + 3) % len(specs)], zones[(k * 5 + 1) % len(zones)], ["current", "previous"][k // 2 % 2]))


def test_generated_javascript_matches_python_including_dst_days() -> None:
    cases, expected = [], []
    for reader, upstream in _pairs():
        need = need_for(reader, upstream)
        tables = js_zone_tables(need.zones)
        marks = [datetime(2025, 3, 9, 7, tzinfo=ZoneInfo("UTC")), datetime(2025, 3, 30, 1, tzinfo=ZoneInfo("UTC")),
                 datetime(2025, 10, 5, 0, tzinfo=ZoneInfo("UTC")), datetime(2025, 11, 2, 6, tzinfo=ZoneInfo("UTC")),
                 datetime(2024, 2, 29, 13, 37, tzinfo=ZoneInfo("UTC"))]
        for mark in marks:
            for t in grid_sessions(reader, mark - timedelta(hours=30), mark + timedelta(hours=30))[::5]:
                st = t.isoformat()
                want = sessions(need, t)
                if need.count is None:
                    cases.append({"expr": js_count(need), "session_time": st, "i": 0, "gen_tz": tables})
                    expected.append(str(len(want)))
                for index, s in enumerate(want):
                    expr = js_session(need, "i" if need.count != 1 else None)
                    cases.append({"expr": expr, "session_time": st, "i": index, "gen_tz": tables})
                    expected.append(s.isoformat())
    assert len(cases) > 500
    got = node_eval(cases)
    mismatches = [(c["expr"][-120:], c["session_time"], c["i"], e, g)
                  for c, e, g in zip(cases, expected, got, strict=False) if e != g]
    assert not mismatches, mismatches[:5]


def test_grid_matches_the_iana_calendar_on_dst_days() -> None:
    ny = ZoneInfo("America/New_York")
    daily = timing({"daily>": "01:00:00"}, tz="America/New_York")
    got = grid_sessions(daily, datetime(2025, 3, 7, tzinfo=ny), datetime(2025, 3, 12, tzinfo=ny))
    assert got == [datetime(2025, 3, d, tzinfo=ny) for d in range(7, 12)]
    assert [g.utcoffset() for g in got] == [datetime(2025, 3, d, tzinfo=ny).utcoffset() for d in range(7, 12)]
    cron = timing({"cron>": "15 3 * * *"}, tz="America/New_York")
    got = grid_sessions(cron, datetime(2025, 3, 8, tzinfo=ny), datetime(2025, 3, 11, tzinfo=ny))
    assert got == [datetime(2025, 3, d, 3, 15, tzinfo=ny) for d in (8, 9, 10)]
