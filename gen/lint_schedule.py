"""Lint rules over the schedules of reader and upstream workflows: GEN301 and GEN302."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from gen.codescan import line_of, ref_offsets
from gen.findings import Finding, finding
from gen.ir import Plan, Workflow
from gen.lint_code import zone_differs
from gen.manifest import Manifest, NodeCode
from gen.requires import (
    Timing,
    Unaligned,
    describe,
    grid_ms,
    is_clamped,
    need_for,
    sessions_ms,
    timing_of,
    to_datetime,
)

# Upstream workflows that hold no session data of their own (views read live data, seeds come from the
# repository): starting them early is harmless, so GEN301/GEN302 leave them out.
STATELESS = frozenset({"view", "seed"})
_SAMPLE_DAYS = {"minute": 1, "hour": 2, "day": 21, "week": 70, "month": 366}


def _timing(workflow: Workflow) -> Timing:
    return timing_of(workflow.schedule, workflow.timezone, workflow.window)


def schedule_findings(manifest: Manifest, code: Mapping[str, NodeCode], plan: Plan, *,
                      expected_runtime_seconds: int) -> Iterator[Finding]:
    """GEN301 and GEN302 for every scheduled reader and each scheduled, data-holding upstream it reads."""
    by_name = {w.name: w for w in plan.workflows}
    owner = {uid: w.name for w in plan.workflows for uid in w.node_ids}
    holds_data = {w.name: w.schedule is not None
                  and not {manifest.nodes[u].materialized for u in w.node_ids} <= STATELESS for w in plan.workflows}
    for reader in plan.workflows:
        if reader.schedule is None:
            continue
        required = {r.upstream for r in reader.requires}
        r = _timing(reader)
        problems: dict[str, tuple[str | None, str | None, Timing]] = {}  # upstream -> (GEN301, GEN302, timing)
        for name in reader.upstreams:
            if not holds_data[name]:
                continue
            u = _timing(by_name[name])
            problem = coverage_problem(r, u, covered=name in required)
            late = lateness(r, u, expected_runtime_seconds) if name in required else None
            if problem or late:
                problems[name] = (problem, late, u)
        if problems:
            yield from _edge_findings(manifest, code, reader, r, owner, problems)


def _edge_findings(manifest: Manifest, code: Mapping[str, NodeCode], reader: Workflow, r: Timing,
                   owner: Mapping[str, str], problems: Mapping[str, tuple[str | None, str | None, Timing]],
                   ) -> Iterator[Finding]:
    """The findings on each edge from a node of `reader` to a node of an upstream with a problem, at the
    line of the node's ref() of it."""
    for uid in reader.node_ids:
        node = manifest.nodes[uid]
        nc = code.get(uid)
        refs: dict[str, int] | None = None
        for parent_id in node.depends_on:
            name = owner.get(parent_id)
            if name is None or name not in problems:
                continue
            problem, late, u = problems[name]
            parent = manifest.nodes[parent_id]
            line = None
            if nc is not None:
                refs = ref_offsets(nc.raw_code) if refs is None else refs
                offset = refs.get(parent.name)
                line = line_of(nc.raw_code, offset) if offset is not None else None
            if problem:
                yield finding("GEN301", node=uid, label=node.label, file=node.file, line=line,
                              message=f"{node.label} (workflow {reader.name!r}, {describe(r)}) reads "
                                      f"{parent.label} (workflow {name!r}, {describe(u)}): {problem}")
            if late:
                yield finding("GEN302", node=uid, label=node.label, file=node.file, line=line,
                              message=f"{node.label} (workflow {reader.name!r}) reads {parent.label} "
                                      f"(workflow {name!r}): {late}")


@lru_cache(maxsize=4096)
def coverage_problem(r: Timing, u: Timing, *, covered: bool) -> str | None:
    """Why a finer or unaligned upstream's sessions are not all required by a reader session, else None."""
    assert r.grid is not None and u.grid is not None
    if not covered:
        return ("the schedules share no regular grid, so no require> was generated and a session may read "
                "upstream sessions that have not run; put both on aligned schedules")
    finer = u.grid.approx_seconds() < r.grid.approx_seconds()
    aligned = u.grid == r.grid and not zone_differs(u.tz, r.tz)
    if not finer and aligned:
        return None
    try:
        if not is_clamped(r, u):
            return None
    except Unaligned:
        return "the schedules share no regular grid, so no require> covers the session"
    return ("part of the session's window lies after its run time, so require> leaves out the upstream "
            "sessions that have not started by then and the run reads an incomplete window; use window: "
            "previous or run later")


@lru_cache(maxsize=4096)
def lateness(r: Timing, u: Timing, runtime: int) -> str | None:
    """The usual case in which a reader starts before a required upstream session has finished, else None."""
    assert r.grid is not None and u.grid is not None
    try:
        need = need_for(r, u)
    except Unaligned:
        return None
    start = int(datetime(2025, 1, 6, tzinfo=UTC).timestamp()) * 1000
    samples = grid_ms(r, start, start + _SAMPLE_DAYS[r.grid.unit or "day"] * 86_400_000)
    late = 0
    first_late: tuple[int, str, int] | None = None  # (reader session, upstream zone, upstream session)
    for t in samples:
        begins = t + r.delay_seconds * 1000
        zone, required = sessions_ms(need, t)
        # the first required session that has not finished by the reader's start (they are in time order)
        s = next((s for s in required if begins < s + (u.delay_seconds + runtime) * 1000), None)
        if s is not None:
            late += 1
            if first_late is None:
                first_late = (t, zone, s)
    if first_late is None or late * 2 < len(samples):  # (no samples: no late one either)
        return None
    session, zone, upstream_session = first_late
    reader_time, upstream_time = to_datetime(r.tz, session), to_datetime(zone, upstream_session)
    reader_start = reader_time + timedelta(seconds=r.delay_seconds)
    upstream_start = upstream_time + timedelta(seconds=u.delay_seconds)
    return (f"in {late} of {len(samples)} sampled sessions it starts before the upstream session it "
            f"requires usually finishes (session {reader_time.isoformat()} starts at {reader_start.isoformat()}; "
            f"upstream session {upstream_time.isoformat()} starts at {upstream_start.isoformat()} and takes about "
            f"{_human(runtime)}), so require> waits for it or starts it early; schedule this workflow later or the "
            "upstream earlier")


def _human(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts) or "0s"
