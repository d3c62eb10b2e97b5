"""`gen lint`: each rule on a small project seeded with its mistake, silencing, formats, exit codes,
and the bundled example (clean)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gen.cli import cli
from gen.codescan import blank_comments, ref_offsets, session_calls, wall_clock_uses
from gen.config import parse_config
from gen.findings import rule_id
from gen.lint import LintOptions, LintResult, format_json, format_text, lint_project, parse_duration
from gen.manifest import load_manifest
from gen.plan import plan_workflows
from tests.conftest import manifest_dict, node

DAILY = {"schedule": {"daily>": "07:00:00"}}
HOURLY = {"schedule": {"hourly>": "10:00"}}
GOOD_DAILY = """{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='id',
    pre_hook="{{ digdag_session.digdag_delete_window('ts', 'day') }}") }}
select id, ts
from {{ ref('src') }}
where {{ digdag_session.digdag_window_filter('ts', 'day') }}
"""
SESSION_MACROS = ["macro.digdag_session.digdag_window_filter", "macro.digdag_session.digdag_delete_window"]


def model(name: str, sql: str, *, materialized: str = "incremental", meta: dict[str, Any] | None = None,
          deps: tuple[str, ...] = ("model.shop.src",), macros: list[str] | None = None,
          strategy: str | None = None) -> dict[str, Any]:
    """A manifest model node with code."""
    n = node(name, deps=deps, materialized=materialized, meta=meta)
    n["raw_code"] = sql
    n["language"] = "sql"
    n["config"]["incremental_strategy"] = strategy
    n["depends_on"]["macros"] = macros if macros is not None else (
        SESSION_MACROS if "digdag_session" in sql else [])
    return n


def macro(name: str, sql: str, *, package: str = "shop", calls: tuple[str, ...] = ()) -> dict[str, Any]:
    """A manifest macro."""
    return {"unique_id": f"macro.{package}.{name}", "resource_type": "macro", "name": name,
            "package_name": package, "original_file_path": f"macros/{name}.sql", "macro_sql": sql,
            "depends_on": {"macros": list(calls)}}


SRC = node("src", materialized="view", meta=DAILY)


def lint(tmp_path: Path, *nodes: dict[str, Any], macros: tuple[dict[str, Any], ...] = (),
         config: dict[str, Any] | None = None, **options: Any) -> LintResult:
    """Lint a manifest made of these nodes (plus the view `src` they read)."""
    manifest = manifest_dict(SRC, *nodes)
    manifest["macros"] = {m["unique_id"]: m for m in macros}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    loaded = load_manifest(path, code=True)
    cfg = parse_config(config or {}, where="gen.yml")
    plan = plan_workflows(loaded, cfg)
    return lint_project(loaded, loaded.code, plan, cfg, options=LintOptions(**options))


def rules(result: LintResult) -> list[tuple[str, str, int | None]]:
    return [(f.rule, f.label, f.line) for f in result.findings]


# --- code scanning --------------------------------------------------------------------------------


def test_comments_are_blanked_but_lines_kept() -> None:
    text = "select 1 -- now()\n/* current_date\n */ {# run_started_at #} 'a -- b' as x\n"
    clean = blank_comments(text)
    assert clean.count("\n") == text.count("\n") and len(clean) == len(text)
    assert "now" not in clean and "current_date" not in clean and "run_started_at" not in clean
    assert "'a -- b'" in clean
    assert wall_clock_uses("x = datetime.now()  # now()", language="python") == [("datetime.now", 4)]


def test_ref_offsets_give_the_first_ref_of_each_name_outside_comments() -> None:
    text = ("-- ref('orders')\nselect * from {{ ref('customers') }}\n"
            "join {{ ref ( \"orders\" , v=2) }} join {{ ref('orders') }} join {{ ref('pkg', 'items') }}")
    assert ref_offsets(text) == {"customers": text.index("ref('customers')"),
                                 "orders": text.index('ref ( "orders"'), "pkg": text.index("ref('pkg'")}


@pytest.mark.parametrize("sql, token", [
    ("select current_timestamp as loaded_at", "current_timestamp"),
    ("select CURRENT_DATE - 1", "CURRENT_DATE"),
    ("where ts > now() - interval '1 day'", "now"),
    ("where ts > getdate()", "getdate"),
    ("where ts > sysdate - 1", "sysdate"),
    ("select {{ dbt.current_timestamp() }}", "current_timestamp"),
    ("where d = '{{ run_started_at.strftime(\"%Y-%m-%d\") }}'", "run_started_at"),
    ("where d = '{{ modules.datetime.date.today() }}'", "modules.datetime.date.today"),
    ("select localtimestamp", "localtimestamp"),
    ("select current_datetime()", "current_datetime"),
])
def test_wall_clock_tokens(sql: str, token: str) -> None:
    assert [t for t, _ in wall_clock_uses(sql)] == [token]


@pytest.mark.parametrize("sql", [
    "select current_date_key, is_today from t",
    "select {{ modules.datetime.timedelta(days=1) }}",
    "-- current_timestamp\nselect 1",
])
def test_not_wall_clock(sql: str) -> None:
    assert wall_clock_uses(sql) == []


def test_session_calls_read_positional_and_keyword_arguments() -> None:
    calls = session_calls(
        """{{ config(pre_hook="{{ digdag_session.digdag_delete_window('a', grain='hour') }}") }}\n"""
        """where {{ digdag_window_filter("b, c", 'day', tz='Asia/Tokyo') }}\n"""
        """and d = {{ digdag_session.digdag_session_date() }}""")
    assert [(c.name, c.args, dict(c.kwargs), c.compared) for c in calls] == [
        ("digdag_delete_window", ("'a'",), {"grain": "'hour'"}, False),
        ("digdag_window_filter", ('"b, c"', "'day'"), {"tz": "'Asia/Tokyo'"}, False),
        ("digdag_session_date", (), {}, True)]


@pytest.mark.parametrize(("before", "compared"), [
    ("where d =", True), ("where d >= ", True), ("where d <", True), ("where d BETWEEN", True),
    ("where d in (", True), ("where d IN  \n (", True), ("where d = {", True), ("between", True),
    ("where d", False), ("where d join(", False), ("select", False), ("where d tween", False),
    ("where d mixin (", False), ("", False),
])
def test_a_call_is_compared_when_the_code_before_it_ends_in_a_comparison(before: str, compared: bool) -> None:
    # Long code before the call: only its last characters decide (a model with many calls stays linear).
    text = "select 1\n" * 2000 + before + " {{ digdag_session.digdag_session_date() }}"
    assert [c.compared for c in session_calls(text)] == [compared]


def test_rule_ids_and_durations() -> None:
    assert rule_id("gen101") == "GEN101" and rule_id("Wall-Clock-In-Incremental") == "GEN101"
    assert rule_id("GEN999") is None
    assert parse_duration("1h30m", where="x") == 5400 and parse_duration("45", where="x") == 45


# --- rules ---------------------------------------------------------------------------------------


def test_clean_incremental_has_no_findings(tmp_path: Path) -> None:
    result = lint(tmp_path, model("fct", GOOD_DAILY, meta=DAILY))
    assert result.findings == () and result.models == 2


def test_gen101_wall_clock_with_file_and_line(tmp_path: Path) -> None:
    sql = GOOD_DAILY.replace("select id, ts", "-- current_timestamp in a comment is fine\nselect id, ts,\n"
                                              "    current_timestamp as loaded_at")
    result = lint(tmp_path, model("fct", sql, meta=DAILY))
    [f] = result.findings
    assert (f.rule, f.severity, f.file, f.line, f.name) == ("GEN101", "error", "models/fct.sql", 5,
                                                           "wall-clock-in-incremental")
    assert "reads the wall clock (current_timestamp)" in f.message


def test_gen101_through_a_project_macro(tmp_path: Path) -> None:
    audit = macro("audit_columns", "{% macro audit_columns() %}\n  now() as loaded_at\n{% endmacro %}")
    wrapper = macro("with_audit", "{% macro with_audit() %}{{ audit_columns() }}{% endmacro %}",
                    calls=("macro.shop.audit_columns",))
    sql = GOOD_DAILY.replace("select id, ts", "select id, ts,\n    {{ with_audit() }}")
    result = lint(tmp_path, model("fct", sql, meta=DAILY, macros=[*SESSION_MACROS, "macro.shop.with_audit"]),
                  macros=(audit, wrapper))
    [f] = result.findings
    assert (f.rule, f.line) == ("GEN101", 4)
    assert "calls macro audit_columns (through with_audit) (macros/audit_columns.sql, line 2 of the macro)" \
        in f.message


def test_wall_clock_in_a_table_model_is_fine(tmp_path: Path) -> None:
    result = lint(tmp_path, model("snap", "select current_timestamp as at", materialized="table", meta=DAILY))
    assert result.findings == ()


def test_gen102_incremental_that_never_reads_the_session(tmp_path: Path) -> None:
    sql = ("{{ config(materialized='incremental') }}\nselect * from {{ ref('src') }}\n"
           "{% if is_incremental() %}where ts > (select max(ts) from {{ this }}){% endif %}\n")
    result = lint(tmp_path, model("fct", sql, meta=DAILY))
    assert rules(result) == [("GEN102", "fct", 1)]
    assert result.findings[0].severity == "error"


def test_session_read_through_a_project_macro_counts(tmp_path: Path) -> None:
    window = macro("in_window",
                   "{% macro in_window(c) %}{{ digdag_session.digdag_window_filter(c) }}{% endmacro %}",
                   calls=("macro.digdag_session.digdag_window_filter",))
    sql = ("{{ config(materialized='incremental') }}\n"
           "select * from {{ ref('src') }} where {{ in_window('ts') }}\n")
    result = lint(tmp_path, model("fct", sql, meta=DAILY, macros=["macro.shop.in_window"]), macros=(window,))
    assert result.findings == ()


def test_gen103_microbatch(tmp_path: Path) -> None:
    sql = ("{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='ts') }}\n"
           "select 1\n")
    result = lint(tmp_path, model("fct", sql, meta=DAILY, strategy="microbatch"))
    assert rules(result) == [("GEN103", "fct", 1)]


def test_gen201_daily_filter_in_an_hourly_workflow(tmp_path: Path) -> None:
    result = lint(tmp_path, model("fct", GOOD_DAILY, meta=HOURLY))
    assert rules(result) == [("GEN201", "fct", 2), ("GEN201", "fct", 5)]
    assert "uses a daily window but workflow 'fct' runs hourly sessions (hourly>: 10:00)" in \
        result.findings[0].message


def test_gen201_window_and_timezone(tmp_path: Path) -> None:
    sql = GOOD_DAILY.replace("'ts', 'day')", "'ts', 'day', tz='America/New_York')")
    tokyo = {**DAILY, "timezone": "Asia/Tokyo", "window": "previous"}
    result = lint(tmp_path, model("fct", sql, meta=tokyo))
    messages = [f.message for f in result.findings]
    assert len(messages) == 4
    assert sum("reads the current window but workflow 'fct' declares window: previous" in m
               for m in messages) == 2
    assert sum("cuts the window in America/New_York but workflow 'fct' runs in Asia/Tokyo" in m
               for m in messages) == 2


def test_gen201_matching_grain_and_label_dates_are_fine(tmp_path: Path) -> None:
    sql = ("{{ config(materialized='incremental') }}\n"
           "select {{ digdag_session.digdag_session_date() }} as d\n"
           "from {{ ref('src') }} where {{ digdag_session.digdag_window_filter('ts', grain='hourly') }}\n")
    assert lint(tmp_path, model("fct", sql, meta=HOURLY)).findings == ()
    daily_filter = sql.replace("where", "where d = {{ digdag_session.digdag_session_date() }} and")
    assert rules(lint(tmp_path, model("fct", daily_filter, meta=HOURLY))) == [("GEN201", "fct", 3)]


def test_gen301_finer_upstream_whose_window_is_not_covered(tmp_path: Path) -> None:
    hourly = model("events", GOOD_DAILY.replace("'day'", "'hour'"), meta=HOURLY)
    reader = model("daily", GOOD_DAILY.replace("ref('src')", "ref('events')"),
                   meta={"schedule": {"daily>": "02:00:00"}}, deps=("model.shop.events",))
    result = lint(tmp_path, hourly, reader)
    # it also waits for the hourly session that starts at its own run time
    assert rules(result) == [("GEN301", "daily", 4), ("GEN302", "daily", 4)]
    assert "require> leaves out the upstream sessions that have not started" in result.findings[0].message
    fixed = model("daily", GOOD_DAILY.replace("ref('src')", "ref('events')").replace("'day')", "'day', "
                  "window='previous')"), meta={"schedule": {"daily>": "00:30:00"}, "window": "previous"},
                  deps=("model.shop.events",))
    assert lint(tmp_path, hourly, fixed).findings == ()


def test_gen301_unaligned_upstream_without_require(tmp_path: Path) -> None:
    odd = model("odd", "select 1", materialized="table", meta={"schedule": {"cron>": "0 9,18 * * *"}})
    reader = model("daily", "select * from {{ ref('odd') }}", materialized="table", meta=DAILY,
                   deps=("model.shop.odd",))
    result = lint(tmp_path, odd, reader)
    assert rules(result) == [("GEN301", "daily", 1)]
    assert "no require> was generated" in result.findings[0].message


def test_gen302_reader_before_writer(tmp_path: Path) -> None:
    writer = model("orders", "select 1", materialized="table", meta={"schedule": {"daily>": "07:00:00"}})
    reader = model("report", "select *\nfrom {{ ref('orders') }}", materialized="table",
                   meta={"schedule": {"daily>": "07:15:00"}}, deps=("model.shop.orders",))
    result = lint(tmp_path, writer, reader)
    assert rules(result) == [("GEN302", "report", 2)]
    assert "takes about 30m" in result.findings[0].message
    assert lint(tmp_path, writer, reader, expected_runtime_seconds=600).findings == ()


def test_views_and_seeds_upstream_are_not_schedule_findings(tmp_path: Path) -> None:
    reader = model("report", "select * from {{ ref('src') }}", materialized="table",
                   meta={"schedule": {"daily>": "01:00:00"}})
    assert lint(tmp_path, reader).findings == ()


# --- silencing and output -------------------------------------------------------------------------


def test_meta_ignore_by_id_or_name_and_global_ignore(tmp_path: Path) -> None:
    bad = GOOD_DAILY.replace("select id, ts", "select id, now() as ts")
    by_id = model("a", bad, meta={**DAILY, "lint": {"ignore": ["GEN101"]}})
    by_name = model("b", bad, meta={**DAILY, "lint": {"ignore": ["wall-clock-in-incremental"]}})
    loud = model("c", bad, meta={**DAILY, "lint": {"ignore": ["GEN999"]}})
    result = lint(tmp_path, by_id, by_name, loud)
    assert rules(result) == [("GEN101", "c", 3)] and result.silenced == 2
    assert result.notes == ("models/c.sql: c: meta.digdag.lint.ignore: unknown rule 'GEN999' (known: GEN101, "
                            "GEN102, GEN103, GEN201, GEN301, GEN302)",)
    everywhere = lint(tmp_path, by_id, by_name, loud, ignore=("GEN101",))
    assert everywhere.findings == () and everywhere.silenced == 3


def test_text_and_json_formats(tmp_path: Path) -> None:
    result = lint(tmp_path, model("fct", GOOD_DAILY.replace("select id, ts", "select id, now() as ts"),
                                  meta=HOURLY))
    text = format_text(result)
    assert text[0].startswith("models/fct.sql:2: warning GEN201 window-grain-mismatch: fct: ")
    assert text[-1] == "1 error, 2 warnings in 2 models"
    document = json.loads(format_json(result))
    assert document["summary"] == {"errors": 1, "warnings": 2, "models": 2, "silenced": 0}
    assert document["findings"][1] == {
        "rule": "GEN101", "name": "wall-clock-in-incremental", "severity": "error", "node": "model.shop.fct",
        "model": "fct", "file": "models/fct.sql", "line": 3, "message": document["findings"][1]["message"]}


def cli_project(write_project, *nodes: dict[str, Any]) -> Path:  # type: ignore[no-untyped-def]
    return write_project(manifest_dict(SRC, *nodes))  # type: ignore[no-any-return]


def test_exit_codes(write_project) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    clean = cli_project(write_project, model("fct", GOOD_DAILY, meta=DAILY))
    done = runner.invoke(cli, ["lint", "--project-dir", str(clean)])
    assert done.exit_code == 0, done.output
    assert done.output == "0 errors, 0 warnings in 2 models\n"
    warned = cli_project(write_project, model("fct", GOOD_DAILY, meta=HOURLY))
    assert runner.invoke(cli, ["lint", "--project-dir", str(warned)]).exit_code == 0
    assert runner.invoke(cli, ["lint", "--project-dir", str(warned), "--fail-on", "warning"]).exit_code == 1
    broken = cli_project(write_project, model("fct", "{{ config(materialized='incremental') }} select 1",
                                              meta=DAILY))
    done = runner.invoke(cli, ["lint", "--project-dir", str(broken), "--format", "json"])
    assert done.exit_code == 1
    assert json.loads(done.output)["findings"][0]["rule"] == "GEN102"
    done = runner.invoke(cli, ["lint", "--project-dir", str(broken), "--ignore", "GEN102"])
    assert done.exit_code == 0 and done.output.endswith("(1 silenced)\n")


def test_bad_input_exits_2(write_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    done = runner.invoke(cli, ["lint", "--manifest", str(tmp_path / "missing.json"),
                               "--project-dir", str(tmp_path)])
    assert done.exit_code == 2 and "no such file" in done.output
    project = cli_project(write_project, model("fct", GOOD_DAILY, meta=DAILY))
    done = runner.invoke(cli, ["lint", "--project-dir", str(project), "--expected-runtime", "soon"])
    assert done.exit_code == 2
    assert ("--expected-runtime: expected a duration such as 30m, 1h30m or 1800 (seconds), got 'soon'"
            in done.output)


@pytest.mark.dbt
def test_the_example_project_is_clean(parsed_shop: Path) -> None:
    done = CliRunner().invoke(cli, ["lint", "--project-dir", str(parsed_shop)])
    assert done.exit_code == 0, done.output
    assert done.output == "0 errors, 0 warnings in 10 models\n"


def test_ignoring_a_rule_that_does_not_exist_is_an_input_error(tmp_path: Path) -> None:
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "gen", "lint", "--ignore", "GEN999", "--project-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("error: --ignore GEN999: no such rule (rules: GEN101, GEN102")


# --- comments blanked by one regular expression, as the character loop it replaced did --------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def reference_blank_comments(text: str, *, language: str = "sql") -> str:
    """The character loop blank_comments replaced (kept as the reference it must agree with)."""
    out = list(text)
    i, n = 0, len(text)
    quote = ""
    while i < n:
        c = text[i]
        if quote:
            if c == "\\" and language == "python":
                i += 2
                continue
            if c == quote:
                quote = ""
            i += 1
            continue
        if c in "'\"":
            quote = c
            i += 1
            continue
        end = -1
        if text.startswith("{#", i):
            end = _end(text, "#}", i + 2) + 2
        elif (language == "python" and c == "#") or (language != "python" and text.startswith("--", i)):
            end = _end(text, "\n", i)
        elif language != "python" and text.startswith("/*", i):
            end = _end(text, "*/", i + 2) + 2
        if end >= 0:
            for k in range(i, min(end, n)):
                if out[k] != "\n":
                    out[k] = " "
            i = end
            continue
        i += 1
    return "".join(out)


def _end(text: str, marker: str, start: int) -> int:
    found = text.find(marker, start)
    return found if found >= 0 else len(text)


def _end(text: str, marker: str, start: int) -> int:
    found = text.find(marker, start)
    return found if found >= 0 else len(text)


_PIECES = ["'", '"', "\\", "--", "-", "/*", "*/", "/", "*", "{#", "#}", "{", "#", "\n", "a", " ", "select"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30).map("".join), st.sampled_from(["sql", "python"]))
def test_blank_comments_agrees_with_the_character_loop(text: str, language: str) -> None:
    assert blank_comments(text, language=language) == reference_blank_comments(text, language=language)
