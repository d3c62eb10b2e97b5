"""Backfill across workflows: which sessions of which workflows re-run a repaired time range. Pure.

The selected workflows re-run every session whose data window overlaps the range. With downstream, a
reader re-runs each session that requires (by the session arithmetic of require>, gen.requires) a
session the backfill re-runs, transitively. An unscheduled workflow runs for the session times its
backfilled readers give it, as require> runs it. Each session records the backfilled sessions it reads,
so they run first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from gen.errors import ConfigError
from gen.graph import reachable, readers_of
from gen.ir import Plan, Workflow
from gen.manifest import Manifest
from gen.nextrun import next_run
from gen.requires import Need, Timing, Unaligned, required_sessions, sessions, timing_of, window
from gen.selection import Selector

Key = tuple[str, datetime]  # (workflow, session time in the workflow's zone)
_IRREGULAR_REACH = timedelta(days=40)  # how far to look for the neighbours of a cron session


@dataclass(frozen=True, slots=True)
class WorkflowBackfill:
    """One workflow of a backfill: the sessions it re-runs, in time order."""

    name: str
    schedule: str  # e.g. `daily>: 07:00:00`, or "no schedule"
    timezone: str
    selected: bool  # owns a selected node (else it reads, transitively, a workflow that does)
    sessions: tuple[datetime, ...]
    reads: tuple[str, ...]  # the backfilled workflows it reads


@dataclass(frozen=True, slots=True)
class BackfillPlan:
    """Everything `gen backfill` prints and runs: workflows upstream first, and each session's inputs."""

    id: str
    selectors: tuple[str, ...]
    downstream: bool
    start: datetime
    stop: datetime
    workflows: tuple[WorkflowBackfill, ...]
    after: Mapping[Key, tuple[Key, ...]]  # the backfilled sessions each session reads
    notes: tuple[str, ...]

    @property
    def session_count(self) -> int:
        return sum(len(w.sessions) for w in self.workflows)

    def session_keys(self) -> list[Key]:
        """Every session, upstream workflows first, each workflow's in time order."""
        return [(w.name, t) for w in self.workflows for t in w.sessions]


def parse_moment(text: str, zone: str, *, end: bool) -> datetime:
    """A --from/--to value: a date (its start; with end=True, the start of the next day, so the day is
    included) or an ISO 8601 time; without an offset, in `zone`."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day + timedelta(days=1 if end else 0), time(), ZoneInfo(zone))
        else:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=ZoneInfo(zone))
    except ValueError as e:
        raise ConfigError(f"{text!r} is not a date (2024-03-01) or an ISO 8601 time (2024-03-01T09:00:00+09:00)") from e
    return moment


def owners(plan: Plan, manifest: Manifest, selectors: Iterable[str]) -> tuple[set[str], list[str]]:
    """The workflows that own the nodes the dbt selectors pick, and the selected nodes no workflow owns."""
    owner = {uid: w.name for w in plan.workflows for uid in w.node_ids}
    selector = Selector(manifest)
    picked: set[str] = set()
    for text in selectors:
        for part in text.split():
            if part.startswith(("+", "@")) or part.endswith("+") or (part[:1].isdigit() and "+" in part):
                raise ConfigError(f"--select {part!r}: graph operators are not taken here; select the nodes "
                                  "themselves and add --downstream for everything that reads them")
            found = selector.select(part)
            if not found:
                raise ConfigError(f"--select {part!r} matches no node of the dbt project")
            picked |= found
    unowned = sorted(uid for uid in picked if uid not in owner)
    return {owner[uid] for uid in picked if uid in owner}, unowned


def plan_backfill(plan: Plan, roots: set[str], start: datetime, stop: datetime, *, downstream: bool,
                  selectors: tuple[str, ...] = ()) -> BackfillPlan:
    """The sessions that re-run [start, stop) in `roots` and, with downstream, in every workflow reading them."""
    if stop <= start:
        raise ConfigError(f"--to ({stop.isoformat()}) must come after --from ({start.isoformat()})")
    by_name = {w.name: w for w in plan.workflows if w.node_ids}  # completion workflows hold no nodes
    readers = readers_of(by_name.values())
    chosen = set(roots) | (reachable(roots, readers.__getitem__) if downstream else set())
    order = _upstream_first(chosen, by_name)
    timings = {name: timing_of(by_name[name].schedule, by_name[name].timezone, by_name[name].window)
               for name in order}
    reach = _reach(by_name[name] for name in order)
    notes: list[str] = []
    affected: dict[str, Callable[[datetime], bool]] = {}
    chosen_sessions: dict[str, list[datetime]] = {}
    for name in order:
        w = by_name[name]
        ups = [u for u in w.upstreams if u in chosen]
        if w.schedule is None:
            affected[name] = _unscheduled(name, ups, timings, affected, start, stop, selected=name in roots)
            continue
        candidates = _schedule_sessions(w, start - reach, stop + reach)
        own = set(_overlapping(w, timings[name], candidates, start, stop)) if name in roots else set()
        for upstream in ups:
            if _aligned(timings[name], timings[upstream]):
                own.update(t for t in candidates if t not in own
                           and _reads_affected(timings[name], timings[upstream], t, affected[upstream]))
            elif chosen_sessions.get(upstream):  # no require> links them: every session whose window
                first, last = chosen_sessions[upstream][0], chosen_sessions[upstream][-1]  # spans theirs
                own.update(_overlapping(w, timings[name], candidates, first, last + timedelta(minutes=1)))
        chosen_sessions[name] = sorted(own)
        keep = frozenset(own)
        affected[name] = keep.__contains__
    # Unscheduled workflows run for the session times their backfilled readers require (readers first).
    for name in reversed(order):
        if by_name[name].schedule is not None:
            continue
        times: set[datetime] = set()
        for reader in readers[name] & chosen:
            for t in chosen_sessions.get(reader, ()):
                times.update(s for s in _needed(timings[reader], timings[name], t) if affected[name](s))
        chosen_sessions[name] = sorted(times)
        if not times:
            notes.append(f"workflow {name!r} has no schedule and no backfilled reader requires it in this range: "
                         "run it by hand if it must re-run")
    after: dict[Key, tuple[Key, ...]] = {}
    for name in order:
        ups = [u for u in by_name[name].upstreams if u in chosen and chosen_sessions[u]]
        have = {upstream: set(chosen_sessions[upstream]) for upstream in ups}
        for t in chosen_sessions[name]:
            deps: list[Key] = []
            for upstream in ups:
                try:
                    needed = _needed(timings[name], timings[upstream], t)
                except Unaligned:  # no require> between them: wait for every upstream session up to this run
                    delay = timedelta(seconds=timings[name].delay_seconds)
                    needed = [s for s in chosen_sessions[upstream] if s <= t + delay]
                deps.extend((upstream, s) for s in needed if s in have[upstream])
            after[(name, t)] = tuple(deps)
    for name in order:
        if by_name[name].schedule is not None and not chosen_sessions[name]:
            notes.append(f"workflow {name!r} has no session in the range")
    workflows = tuple(WorkflowBackfill(
        name=name, schedule=_describe(by_name[name]),
        timezone=by_name[name].timezone, selected=name in roots, sessions=tuple(chosen_sessions[name]),
        reads=tuple(u for u in by_name[name].upstreams if u in chosen)) for name in order)
    return BackfillPlan(id=_backfill_id(plan.project, workflows), selectors=selectors, downstream=downstream,
                        start=start, stop=stop, workflows=workflows, after=after, notes=tuple(notes))


def _describe(w: Workflow) -> str:
    return w.schedule.describe() if w.schedule is not None else "no schedule"


def _upstream_first(chosen: set[str], by_name: Mapping[str, Workflow]) -> list[str]:
    """The chosen workflows, each after the chosen workflows it reads; ties by name."""
    order: list[str] = []
    placed: set[str] = set()
    waiting = {name: {u for u in by_name[name].upstreams if u in chosen} for name in chosen}
    while waiting:
        ready = sorted(name for name, ups in waiting.items() if ups <= placed)
        if not ready:  # the plan refuses cycles; never here
            raise ConfigError(f"workflows {sorted(waiting)} read each other")
        for name in ready:
            order.append(name)
            placed.add(name)
            del waiting[name]
    return order


def _reach(workflows: Iterable[Workflow]) -> timedelta:
    """How far outside the range a session can lie and still read or cover a session inside it."""
    longest = timedelta(hours=1)
    for w in workflows:
        if w.schedule is None:
            continue
        grid = w.schedule.grid
        period = timedelta(seconds=grid.approx_seconds()) if grid.regular else _IRREGULAR_REACH
        longest = max(longest, period + timedelta(seconds=w.schedule.delay_seconds))
    return 2 * longest + timedelta(days=1)


def _schedule_sessions(w: Workflow, start: datetime, stop: datetime) -> list[datetime]:
    """Every session time in [start, stop) the workflow's schedule creates (as Digdag's scheduler does,
    `start:` and `end:` options included)."""
    assert w.schedule is not None
    delay = timedelta(seconds=w.schedule.delay_seconds)
    out: list[datetime] = []
    cursor = start
    while True:
        found = next_run(w.schedule, w.timezone, cursor + delay)
        if found is None or found.session_time >= stop:
            return out
        out.append(found.session_time)
        cursor = found.session_time + timedelta(minutes=1)


def _overlapping(w: Workflow, timing: Timing, candidates: list[datetime], start: datetime,
                 stop: datetime) -> list[datetime]:
    """The sessions whose data window overlaps [start, stop)."""
    out = []
    for index, t in enumerate(candidates):
        if timing.grid is not None and timing.grid.regular:
            begin, end = window(timing, t)
        elif timing.window == "previous":  # a cron schedule: the window reaches the neighbouring session
            begin, end = (candidates[index - 1] if index else t - _IRREGULAR_REACH), t
        else:
            begin, end = t, (candidates[index + 1] if index + 1 < len(candidates) else t + _IRREGULAR_REACH)
        if begin < stop and end > start:
            out.append(t)
    return out


def _needed(reader: Timing, upstream: Timing, t: datetime) -> list[datetime]:
    """The upstream sessions a reader's session at t requires (Unaligned when no require> links them)."""
    return [s.astimezone(ZoneInfo(upstream.tz)) for s in sessions(_need(reader, upstream), t)]


@lru_cache(maxsize=1024)
def _need(reader: Timing, upstream: Timing) -> Need:
    return required_sessions(reader, upstream).need


def _aligned(reader: Timing, upstream: Timing) -> bool:
    try:
        _need(reader, upstream)
    except Unaligned:
        return False
    return True


def _reads_affected(reader: Timing, upstream: Timing, t: datetime, affected: Callable[[datetime], bool]) -> bool:
    try:
        return any(affected(s) for s in _needed(reader, upstream, t))
    except Unaligned:
        return False


def _unscheduled(name: str, ups: list[str], timings: Mapping[str, Timing],
                 affected: Mapping[str, Callable[[datetime], bool]], start: datetime, stop: datetime, *,
                 selected: bool) -> Callable[[datetime], bool]:
    """Whether a run of an unscheduled workflow for session time t re-runs: selected, when t is in the
    range; downstream, when what it reads at t is re-run."""
    timing = timings[name]
    inputs = [(timings[u], affected[u]) for u in ups]

    def check(t: datetime) -> bool:
        if selected and start <= t < stop:
            return True
        return any(_reads_affected(timing, up, t, hit) for up, hit in inputs)

    return check


def _backfill_id(project: str, workflows: tuple[WorkflowBackfill, ...]) -> str:
    """The same sessions of the same project give the same id, so running the command again resumes."""
    digest = hashlib.sha256(project.encode())
    for w in workflows:
        for t in w.sessions:
            digest.update(f"\n{w.name}@{t.astimezone(UTC).isoformat()}".encode())
    return f"backfill-{digest.hexdigest()[:10]}"
