"""Lint rules over a model's code: GEN101-GEN103 (incremental models, time), GEN201 (window vs schedule)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from gen.codescan import (
    GRAIN_ARGUMENT,
    GRAINS,
    TZ_ARGUMENT,
    WINDOW_ARGUMENT,
    first_offset,
    line_of,
    reads_session_time,
    session_calls,
    string_value,
    wall_clock_uses,
)
from gen.findings import Finding, finding
from gen.ir import Workflow
from gen.manifest import Node, NodeCode
from gen.zones import offset_table

SESSION_PACKAGE = "digdag_session"
# Packages whose macros are dbt's and its adapters' own: never scanned for wall-clock reads.
INTERNAL_PACKAGES = frozenset({
    "dbt", "dbt_postgres", "dbt_redshift", "dbt_snowflake", "dbt_bigquery", "dbt_duckdb", "dbt_spark",
    "dbt_databricks", "dbt_trino", "dbt_athena", "dbt_fabric", "dbt_sqlserver", "dbt_clickhouse",
    "dbt_synapse", SESSION_PACKAGE})


def _at(rule: str, node: Node, line: int | None, message: str) -> Finding:
    return finding(rule, node=node.unique_id, label=node.label, file=node.file, line=line, message=message)


def macro_closure(start: tuple[str, ...], code: Mapping[str, NodeCode]) -> list[tuple[NodeCode, str]]:
    """The project and package macros a node calls, directly or through other macros (dbt's own left out),
    each with the name of the macro the node calls to reach it.

    Macros of the digdag_session package are included (they read the session time) but not followed.
    """
    seen: set[str] = set()
    stack = [(uid, uid.rsplit(".", 1)[-1]) for uid in reversed(start)]
    out = []
    while stack:
        uid, entry = stack.pop()
        macro = code.get(uid)
        if uid in seen or macro is None:
            continue
        seen.add(uid)
        if macro.package == SESSION_PACKAGE:
            out.append((macro, entry))
        elif macro.package not in INTERNAL_PACKAGES:
            out.append((macro, entry))
            stack.extend((callee, entry) for callee in reversed(macro.macros))
    return sorted(out, key=lambda pair: pair[0].unique_id)


def code_findings(node: Node, nc: NodeCode, code: Mapping[str, NodeCode]) -> Iterator[Finding]:
    """GEN101, GEN102 and GEN103 for one model."""
    if nc.materialized != "incremental":
        return
    kind = "microbatch" if nc.incremental_strategy == "microbatch" else "incremental"
    text, language = nc.raw_code, nc.language
    uses = wall_clock_uses(text, language=language)
    for token, offset in uses:
        yield _at("GEN101", node, line_of(text, offset),
                  f"{kind} model {node.label} reads the wall clock ({token}): a re-run or backfill of a "
                  "session loads different rows; derive times from the session time (digdag_session "
                  "macros) instead")
    macros = macro_closure(nc.macros, code)
    dirty = False
    for macro, entry in macros:
        macro_uses = wall_clock_uses(macro.raw_code) if macro.package != SESSION_PACKAGE else []
        if macro_uses:
            dirty = True
            name = macro.unique_id.rsplit(".", 1)[-1]
            call = first_offset(text, rf"\b{entry}\s*\(")
            token, at = macro_uses[0]
            via = f" (through {entry})" if entry != name else ""
            yield _at("GEN101", node, line_of(text, call) if call is not None else None,
                      f"{kind} model {node.label} calls macro {name}{via} ({macro.file}, line "
                      f"{line_of(macro.raw_code, at)} of the macro), which reads the wall clock ({token})")
    if not uses and not dirty and nc.compiled_code:
        compiled = wall_clock_uses(nc.compiled_code, language=language)
        if compiled:
            yield _at("GEN101", node, None,
                      f"{kind} model {node.label}: its compiled SQL reads the wall clock ({compiled[0][0]})")
    if kind == "microbatch":
        yield _at("GEN103", node, _line(text, r"microbatch"),
                  f"microbatch model {node.label}: dbt chooses its batches from the run's wall clock "
                  "(run_started_at and lookback), not from the Digdag session, unless the run passes "
                  "--event-time-start/--event-time-end for the session window")
        return
    reads = reads_session_time(text, language=language) or any(
        m.package == SESSION_PACKAGE or reads_session_time(m.raw_code) for m, _ in macros)
    if not reads:
        yield _at("GEN102", node, _line(text, r"incremental"),
                  f"incremental model {node.label} never reads the Digdag session time, so a backfill of an "
                  "old session loads today's data again; filter on the session window, e.g. where "
                  "{{ digdag_session.digdag_window_filter('updated_at', 'day') }}")


def _line(text: str, pattern: str) -> int:
    offset = first_offset(text, pattern)
    return line_of(text, offset) if offset is not None else 1


def window_findings(node: Node, nc: NodeCode, workflow: Workflow) -> Iterator[Finding]:
    """GEN201: digdag_session window macros whose grain, window or timezone differ from the workflow's."""
    if workflow.schedule is None or workflow.schedule.grid.unit is None:
        return
    unit = workflow.schedule.grid.unit
    for call in session_calls(nc.raw_code):
        if call.name == "digdag_session_date" and not call.compared:
            continue  # a label column, not a filter
        line = line_of(nc.raw_code, call.offset)
        grain: str | None = "day"
        if call.name in GRAIN_ARGUMENT:
            written = call.argument("grain", GRAIN_ARGUMENT[call.name])
            grain = "day" if written is None else GRAINS.get((string_value(written) or "").lower())
        if grain is not None and grain != unit:
            effect = "miss" if _MINUTES[grain] < _MINUTES[unit] else "reload"
            yield _at("GEN201", node, line,
                      f"{node.label}: {call.name} uses a {_ADJ[grain]} window but workflow {workflow.name!r} "
                      f"runs {_ADJ[unit]} sessions ({workflow.schedule.describe()}), so each session would "
                      f"{effect} data; use grain '{unit}' or move the model to a {_ADJ[grain]} workflow")
        written = call.argument("window", WINDOW_ARGUMENT.get(call.name))
        window = "current" if written is None else string_value(written)
        if window is not None and window != workflow.window:
            yield _at("GEN201", node, line,
                      f"{node.label}: {call.name} reads the {window} window but workflow {workflow.name!r} "
                      f"declares window: {workflow.window}, from which its require> tasks are computed; "
                      f"pass window='{workflow.window}'")
        tz = string_value(call.argument("tz", TZ_ARGUMENT.get(call.name)))
        if tz and zone_differs(tz, workflow.timezone):
            yield _at("GEN201", node, line,
                      f"{node.label}: {call.name} cuts the window in {tz} but workflow {workflow.name!r} "
                      f"runs in {workflow.timezone}")


_ADJ = {"minute": "minute", "hour": "hourly", "day": "daily", "week": "weekly", "month": "monthly"}
_MINUTES = {"minute": 1, "hour": 60, "day": 1440, "week": 10080, "month": 44640}


def zone_differs(a: str, b: str) -> bool:
    """True when two zone names have different UTC offsets at some time (1990-2070)."""
    if a == b:
        return False
    try:
        return offset_table(a) != offset_table(b)
    except (KeyError, ValueError, OSError):  # an unknown zone name: dbt reports it when the model runs
        return True
