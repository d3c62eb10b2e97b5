"""UTC offsets of IANA zones as tables (1990-2070), and wall-clock/instant conversion on epoch milliseconds.

The session arithmetic (gen.requires) and the generated JavaScript (gen.expressions, gen/sessions.js) both
work on these tables, so Python and Digdag agree on every offset change."""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

TABLE_START, TABLE_END = 1990, 2070

@lru_cache(maxsize=512)
def offset_table(zone: str) -> tuple[int, tuple[tuple[int, int], ...]]:
    """(offset in minutes at the start of 1990, ((epoch ms, offset minutes) at each change until 2070))."""
    if zone == "UTC":
        return 0, ()
    tz = ZoneInfo(zone)
    from_seconds = datetime.fromtimestamp

    def offset(ms: int) -> int:
        off = datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz).utcoffset()
        return int(off.total_seconds() // 60) if off is not None else 0

    start = int(datetime(TABLE_START, 1, 1, tzinfo=UTC).timestamp() * 1000)
    stop = int(datetime(TABLE_END, 1, 1, tzinfo=UTC).timestamp() * 1000)
    # One sample a day: the shortest time between two offset changes in the tz database from 1990 to 2070 is
    # 167 hours (Asia/Gaza, America/Noronha), so no change between two samples goes unseen.
    step = 24 * 3_600_000
    first = offset(start)
    changes = []
    prev, cur = first, start
    prev_delta = from_seconds(start // 1000, tz).utcoffset()
    while cur < stop:
        nxt = cur + step
        # Sample every day; the offset in minutes is worked out only when the raw offset moves.
        delta = from_seconds(nxt // 1000, tz).utcoffset()
        if delta == prev_delta:
            cur = nxt
            continue
        prev_delta = delta
        off = offset(nxt)
        if off != prev:
            lo, hi = cur, nxt  # offset(lo) == prev, offset(hi) == off: bisect to the minute
            while hi - lo > 60_000:
                mid = (lo + hi) // 2 // 60_000 * 60_000
                if mid <= lo:
                    break
                if offset(mid) == prev:
                    lo = mid
                else:
                    hi = mid
            changes.append((hi, off))
            prev = off
        cur = nxt
    return first, tuple(changes)


def has_fixed_offset(zone: str) -> bool:
    """True when the zone's offset never changes between 1990 and 2070."""
    return not offset_table(zone)[1]


def offset_minutes(zone: str, ms: int) -> int:
    first, times, offsets = _changes(zone)
    if not times:
        return first
    index = bisect_right(times, ms)  # the changes at or before ms
    return offsets[index - 1] if index else first


@lru_cache(maxsize=512)
def _changes(zone: str) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    """offset_table(zone) as (first offset, change times, offsets from each change on)."""
    first, changes = offset_table(zone)
    return first, tuple(at for at, _ in changes), tuple(off for _, off in changes)


def wall_ms(zone: str, ms: int) -> int:
    return ms + offset_minutes(zone, ms) * 60_000


def instant_ms(zone: str, wall: int) -> int:
    first, times, _ = _changes(zone)
    if not times:
        return wall - first * 60_000
    return wall - offset_minutes(zone, wall - offset_minutes(zone, wall) * 60_000) * 60_000
