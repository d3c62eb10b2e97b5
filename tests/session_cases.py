"""The require> expressions gen writes, with the session times Python expects them to give: the cases
that node (a fast pre-check) and the real Digdag (the proof) evaluate."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from gen import expressions
from gen.requires import PREVIOUS, SAME, Required, Timing, _previous, grid_sessions, required_sessions, sessions
from gen.schedule import parse_schedule
from tests.conftest import REPO

UTC = ZoneInfo("UTC")
SPECS = [
    {"hourly>": "10:00"}, {"hourly>": "00:00"}, {"daily>": "07:00:00"}, {"daily>": "00:30:00"},
    {"weekly>": "Mon,02:00:00"}, {"monthly>": "1,03:00:00"}, {"minutes_interval>": 15},
    {"cron>": "15 3 * * *"}, {"cron>": "30 * * * *"}, {"cron>": "0 9 * * 1"}, {"weekly>": "Sun,00:00:00"},
    {"monthly>": "15,00:00:00"},
]
ZONES = ["UTC", "Asia/Tokyo", "America/New_York", "Asia/Kolkata", "Europe/London", "Australia/Sydney"]
# DST days of the northern and southern zones, a leap day and a month end.
MARKS = [datetime(2025, 3, 9, 7, tzinfo=UTC), datetime(2025, 3, 30, 1, tzinfo=UTC),
         datetime(2025, 10, 5, 0, tzinfo=UTC), datetime(2025, 11, 2, 6, tzinfo=UTC),
         datetime(2024, 2, 29, 13, 37, tzinfo=UTC), datetime(2025, 1, 31, 23, tzinfo=UTC)]


def timing(spec: dict[str, object], tz: str, window: str = "current") -> Timing:
    schedule = parse_schedule(spec, where="test")
    return Timing(schedule.grid, tz, schedule.delay_seconds, window)


def pairs(count: int = 72) -> Iterator[tuple[Timing, Timing]]:
    """Reader and upstream timings spread over every schedule form, zone and window, and the pairs that
    need the reader's own or previous session (in DST zones too)."""
    yield timing({"daily>": "08:30:00"}, "Asia/Tokyo"), timing({"daily>": "07:00:00"}, "Asia/Tokyo")
    yield timing({"hourly>": "10:00"}, "America/New_York"), Timing(None, "UTC", 0, "current")
    yield timing({"daily>": "09:00:00"}, "America/New_York", "previous"), timing({"daily>": "01:00:00"}, "America/New_York")
    yield timing({"weekly>": "Mon,09:00:00"}, "Europe/London", "previous"), timing({"weekly>": "Mon,01:00:00"}, "Europe/London")
    yield timing({"monthly>": "1,09:00:00"}, "Australia/Sydney", "previous"), timing({"monthly>": "1,01:00:00"}, "Australia/Sydney")
    for k in range(count):
        yield (timing(SPECS[k % len(SPECS)], ZONES[k % len(ZONES)], ["current", "previous"][k % 2]),
               timing(SPECS[(k * 7 + 3) % len(SPECS)], ZONES[(k * 5 + 1) % len(ZONES)],
                      ["current", "previous"][k // 2 % 2]))


@dataclass(frozen=True)
class Case:
    """One expression evaluated for one reader session (and loop index), and the text it must give."""

    expr: str
    session_time: str
    last_session_time: str
    i: int
    expected: str


def cases(every: int = 5, *, per_mark: int | None = None, loop_ends: bool = False) -> list[Case]:
    """Every expression kind over sessions around each mark (every `every`-th, at most `per_mark` of them;
    with `loop_ends`, only the first, middle and last loop index); a require> without session_time is the
    reader's own session, which the case states as `${session_time}`."""
    out = []
    for reader, upstream in pairs():
        required = required_sessions(reader, upstream)
        for mark in MARKS:
            times = grid_sessions(reader, mark - timedelta(hours=30), mark + timedelta(hours=30))[::every]
            if per_mark is not None and len(times) > per_mark:
                times = times[:: -(-len(times) // per_mark)]
            for t in times:
                out.extend(_cases(reader, required, t, loop_ends=loop_ends))
    return out


def _cases(reader: Timing, required: Required, t: datetime, *, loop_ends: bool) -> Iterator[Case]:
    want = sessions(required.need, t)
    last = _previous(reader, t).isoformat() if reader.grid is not None else t.isoformat()
    if required.loops:
        yield Case(_expr(expressions.session_count(required)), t.isoformat(), last, 0, str(len(want)))
    for index, s in enumerate(want):
        if loop_ends and index not in (0, len(want) // 2, len(want) - 1):
            continue
        expr = expressions.session_time(required, "i" if required.loops else None)
        if required.kind == SAME:  # the same instant: require> passes the reader's own session time
            assert expr is None and s == t
            expr, s = "${session_time}", t
        if required.kind == PREVIOUS:
            assert expr == "${last_session_time}"
        yield Case(_expr(expr or ""), t.isoformat(), last, index, s.isoformat())


def _expr(text: str) -> str:
    return text if text.startswith("${") else "${" + text + "}"


def library_params() -> dict[str, object]:
    """What shared/sessions.yml exports: the library and the offset tables of every zone."""
    return {"gen_sessions": expressions.LIBRARY, "gen_tz": expressions.tables(tuple(ZONES))}


def digdag_moment_js() -> str:
    """moment.min.js exactly as Digdag ships it, read from the installed digdag-core jar."""
    jars = sorted((REPO / ".tools").glob("digdag-*/lib/digdag-core-*.jar"))
    assert jars, "Digdag is not installed (.tools/digdag-*/lib): run scripts/install-digdag.sh"
    with zipfile.ZipFile(jars[0]) as jar:
        return jar.read("io/digdag/core/agent/moment.min.js").decode("utf-8")


def as_json(items: list[Case]) -> str:
    return json.dumps([c.__dict__ for c in items])


def probe_tasks(items: list[Case], per_task: int = 400) -> list[str]:
    """Digdag tasks that echo `CASE <n> <value>` for each case: the generated expression's body runs in
    Digdag's engine inside a function whose parameters are the case's session_time, i and
    last_session_time."""
    tasks = []
    for start in range(0, len(items), per_task):
        calls = []
        for n, case in enumerate(items[start:start + per_task], start=start):
            body = case.expr[2:-1]
            calls.append(f"'CASE {n} ' + (function (session_time, i, last_session_time) {{ return {body}; }})"
                         f"('{case.session_time}', {case.i}, '{case.last_session_time}')")
        script = "${[" + ", ".join(calls) + "].join('\\n')}"
        tasks.append(f"+c{start}:\n  echo>: {json.dumps(script)}\n")
    return tasks


def write_probe(project: Path, items: list[Case]) -> None:
    """A Digdag project whose one workflow evaluates every case (shared/sessions.yml as gen writes it)."""
    (project / "shared").mkdir(parents=True, exist_ok=True)
    params = library_params()
    lines = ["gen_tz:"] + [f"  {json.dumps(z)}: {json.dumps(t)}" for z, t in params["gen_tz"].items()]  # type: ignore[union-attr]
    lines += ["gen_sessions: |"] + ["  " + line for line in str(params["gen_sessions"]).splitlines()]
    (project / "shared" / "sessions.yml").write_text("\n".join(lines) + "\n")
    head = "timezone: UTC\n_export:\n  !include : shared/sessions.yml\n"
    (project / "probe.dig").write_text(head + "".join(probe_tasks(items)))

