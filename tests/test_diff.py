"""gen diff's parts: next run times (nextrun), reading .dig files back (digread), the comparison (diff)
and its wording (diffreport)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace as replace_struct

from gen.config import parse_config
from gen.diff import diff_summaries
from gen.diffreport import MARKDOWN_MARK, format_diff, format_json, format_markdown, format_text
from gen.digread import WorkflowSummary, read_project, read_workflow, summarize_plan
from gen.errors import ProjectReadError
from gen.ir import Plan
from gen.manifest import load_manifest
from gen.nextrun import next_run, parse_now
from gen.plan import plan_workflows
from gen.render import render_tree
from gen.requires import Timing, grid_sessions
from gen.schedule import parse_schedule
from tests.conftest import REPO, manifest_dict, node
from tests.golden_cases import CASES

NOW = datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")


def sched(spec: dict[str, Any]):  # type: ignore[no-untyped-def]
    return parse_schedule(spec, where="test")


# --- next runs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "zone", "session", "run"), [
    ({"daily>": "07:00:00"}, "Asia/Tokyo", datetime(2024, 3, 2, tzinfo=TOKYO),
     datetime(2024, 3, 2, 7, tzinfo=TOKYO)),
    # Tokyo's 2024-03-01 07:00 was 2024-02-29 22:00 UTC: already past at NOW
    ({"daily>": "07:00:00"}, "UTC", datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 1, 7, tzinfo=UTC)),
    ({"hourly>": "10:00"}, "UTC", datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 1, 0, 10, tzinfo=UTC)),
    ({"minutes_interval>": 15}, "UTC", NOW, NOW),  # a run exactly at `now` counts, as in Digdag
    ({"weekly>": "Mon,03:00:00"}, "America/New_York", datetime(2024, 3, 4, tzinfo=NEW_YORK),
     datetime(2024, 3, 4, 3, tzinfo=NEW_YORK)),
    ({"monthly>": "31,04:00:00"}, "Asia/Tokyo", datetime(2024, 3, 31, tzinfo=TOKYO),
     datetime(2024, 3, 31, 4, tzinfo=TOKYO)),
    # cron4j: day of month AND day of week must match (the next Friday the 13th)
    ({"cron>": "0 9 13 * fri"}, "UTC", datetime(2024, 9, 13, 9, tzinfo=UTC),
     datetime(2024, 9, 13, 9, tzinfo=UTC)),
    ({"cron>": "0 0 L 2 *"}, "UTC", datetime(2025, 2, 28, tzinfo=UTC), datetime(2025, 2, 28, tzinfo=UTC)),
    ({"cron>": "15 6 * * *", "delay": 3600}, "UTC", datetime(2024, 3, 1, 6, 15, tzinfo=UTC),
     datetime(2024, 3, 1, 7, 15, tzinfo=UTC)),
    ({"daily>": "07:00:00", "start": "2024-06-01"}, "UTC", datetime(2024, 6, 1, tzinfo=UTC),
     datetime(2024, 6, 1, 7, tzinfo=UTC)),
])
def test_next_run(spec: dict[str, Any], zone: str, session: datetime, run: datetime) -> None:
    found = next_run(sched(spec), zone, NOW)
    assert found is not None
    assert (found.session_time, found.run_at) == (session, run)
    assert found.run_at.tzinfo is not None and found.run_at.utcoffset() == run.utcoffset()


def test_next_run_after_end_is_none_and_skipped_wall_times_are_not_sessions() -> None:
    assert next_run(sched({"daily>": "07:00:00", "end": "2024-02-01"}), "UTC", NOW) is None
    # 02:30 did not exist in New York on 2024-03-10 (clocks jumped from 02:00 to 03:00)
    found = next_run(sched({"cron>": "30 2 * * *"}), "America/New_York", datetime(2024, 3, 10, 5, tzinfo=UTC))
    assert found is not None and found.session_time == datetime(2024, 3, 11, 2, 30, tzinfo=NEW_YORK)
    with pytest.raises(ValueError, match="aware"):
        next_run(sched({"daily>": "07:00:00"}), "UTC", datetime(2024, 1, 1))


def test_parse_now() -> None:
    assert parse_now("2024-03-01T09:00:00") == datetime(2024, 3, 1, 9, tzinfo=UTC)
    assert parse_now("2024-03-01T09:00:00+09:00") == datetime(2024, 3, 1, tzinfo=UTC)


# Every cron shape gen.schedule gives a grid, so that its grid and the cron evaluator cannot drift apart.
GRID_SPECS = [{"daily>": "07:00:00"}, {"hourly>": "10:00"}, {"minutes_interval>": 20},
              {"weekly>": "Sun,09:30:00"}, {"monthly>": "3,01:00:00"}, {"cron>": "45 6 * * *"},
              {"cron>": "*/15 * * * *"}, {"cron>": "5 * * * *"}, {"cron>": "30 9 * * mon"},
              {"cron>": "0 9 * * 7"}, {"cron>": "20 4 28 * *"}, {"cron>": "15 3 * * *", "delay": 600}]


ZONES = ["UTC", "Asia/Tokyo", "America/New_York", "Europe/London", "America/St_Johns", "Asia/Kolkata"]


@settings(max_examples=150, deadline=None)
@given(spec=st.sampled_from(GRID_SPECS), zone=st.sampled_from(ZONES),
       minutes=st.integers(min_value=0, max_value=60 * 24 * 800))
def test_next_run_is_the_first_grid_session_that_has_not_run(spec: dict[str, Any], zone: str,
                                                             minutes: int) -> None:
    """Cross-check with the session grid gen.requires computes independently."""
    schedule = sched(spec)
    now = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    found = next_run(schedule, zone, now)
    assert found is not None
    delay = timedelta(seconds=schedule.delay_seconds)
    timing = Timing(grid=schedule.grid, tz=zone, delay_seconds=schedule.delay_seconds, window="current")
    candidates = [s for s in grid_sessions(timing, now - delay - timedelta(days=40), now + timedelta(days=40))
                  if s + delay >= now]
    assert found.session_time == candidates[0]
    assert found.run_at == found.session_time + delay


def test_half_hour_dst_shift_keeps_cron_wall_clock_minutes() -> None:
    """Lord Howe falls back 30 minutes (02:00 +11:00 -> 01:30 +10:30): cron's minute 0 is next 02:00 +10:30.

    (gen.requires steps hourly grids by absolute hours, which would give 01:30 +10:30 here; that zone is
    therefore left out of the cross-check above.)"""
    found = next_run(sched({"hourly>": "00:00"}), "Australia/Lord_Howe",
                     datetime(2024, 4, 6, 14, 30, tzinfo=UTC))
    assert found is not None
    assert found.session_time.isoformat() == "2024-04-07T02:00:00+10:30"
    assert found.session_time == datetime(2024, 4, 6, 15, 30, tzinfo=UTC)


# --- reading .dig files back ----------------------------------------------------------------------


def golden_plan(tmp_path: Path) -> Plan:
    manifest, config = CASES["every_schedule"]()
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest))
    return plan_workflows(load_manifest(path), parse_config(config, where="gen.yml"))


def write_tree(tree: dict[str, str], folder: Path) -> Path:
    for rel, text in tree.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    return folder


def test_reading_a_rendered_project_gives_back_the_plan(tmp_path: Path) -> None:
    plan = golden_plan(tmp_path)
    out = write_tree(render_tree(plan), tmp_path / "out")
    (out / "mine.dig").write_text("+hello:\n  echo>: hi\n")  # not gen's: ignored, reported
    project = read_project(out)
    assert project.workflows == summarize_plan(plan)
    assert project.foreign == ("mine.dig",)
    by_name = {w.name: w for w in project.workflows}
    # a loop> require (weekly reads daily) and plain ones are both found
    assert by_name["events_weekly"].requires == ("events_daily",)
    assert by_name["marts"].selects == ("dim_a", "dim_b")
    assert by_name["adhoc"].schedule is None
    assert by_name["events_daily"].window == "previous"
    assert read_project(tmp_path / "missing").workflows == ()


def test_a_file_exactly_as_gen_renders_it_now_is_not_parsed_but_an_edited_one_is(tmp_path: Path) -> None:
    plan = golden_plan(tmp_path)
    tree = render_tree(plan)
    out = write_tree(tree, tmp_path / "out")
    summaries = {s.name: s for s in summarize_plan(plan)}
    marked = replace(summaries["marts"], selects=("as given",))  # tells the given summary from a parsed one
    known = {path: (tree[path], marked if name == "marts" else summaries[name])
             for path, name in tree.workflow_files().items()}
    assert set(known) == {f"{w.name}.dig" for w in plan.workflows}
    read = {w.name: w for w in read_project(out, known=known).workflows}
    assert read["marts"].selects == ("as given",)
    assert tuple(read.values()) == tuple(marked if w.name == "marts" else w for w in summarize_plan(plan))
    (out / "marts.dig").write_text(tree["marts.dig"] + "\n", encoding="utf-8")  # edited: parsed again
    assert {w.name: w for w in read_project(out, known=known).workflows}["marts"] == summaries["marts"]


def test_the_committed_example_output_reads(tmp_path: Path) -> None:
    project = read_project(REPO / "out")
    names = {w.name: w for w in project.workflows}
    assert names["customer_marts"].selects == ("dim_customers", "mart_customer_ltv")
    assert names["fct_hourly_events"].when() == "hourly>: 10:00 (UTC)"
    assert "fct_hourly_events" in names["mart_daily_summary"].requires


@pytest.mark.parametrize(("text", "message"), [
    ("# Generated by gen 0.1.0\ntimezone: [\n", "invalid YAML at line"),
    ("# Generated by gen 0.1.0\ntimezone: UTC\n", "no _export.gen_selects"),
    ("# Generated by gen 0.1.0\n_export:\n  gen_selects: '[\"a\",'\n", "gen_selects is not valid JSON"),
    ("# Generated by gen 0.1.0\n_export:\n  gen_selects: '{\"a\": 1}'\n", "must be a JSON list of strings"),
    ("# Generated by gen 0.1.0\nschedule: {daily>: '25:00:00'}\n", "out of range"),
    ("# Generated by gen 0.1.0\n- a\n", "the top level is not a mapping"),
])
def test_unreadable_dig_files_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "w.dig").write_text(text)
    with pytest.raises(ProjectReadError) as info:
        read_project(tmp_path)
    assert str(tmp_path / "w.dig") in str(info.value)
    assert message in str(info.value)


def test_an_unquoted_yaml_time_is_still_the_schedule_digdag_reads() -> None:
    text = "timezone: UTC\nschedule:\n  daily>: 07:00:00\n_export:\n  gen_selects: '[\"a\"]'\n"
    summary = read_workflow("w", text, where="w.dig")
    assert summary.schedule is not None and summary.schedule.describe() == "daily>: 07:00:00"


# --- the comparison -------------------------------------------------------------------------------


def summary(name: str, *selects: str, schedule: dict[str, Any] | None = None, tz: str = "UTC",
            requires: tuple[str, ...] = (), window: str | None = "current") -> WorkflowSummary:
    return WorkflowSummary(name=name, selects=tuple(sorted(selects)),
                           schedule=sched(schedule) if schedule else None, timezone=tz, window=window,
                           requires=tuple(sorted(requires)))


DAILY7 = {"daily>": "07:00:00"}


def test_identical_projects_have_no_changes() -> None:
    side = [summary("a", "a", schedule=DAILY7), summary("b", "b", requires=("a",))]
    diff = diff_summaries(side, side, now=NOW)
    assert not diff.has_changes
    assert format_text(diff) == "gen diff: no workflow changes (2 workflows)\n"
    assert "No workflow changes (2 workflows)." in format_markdown(diff)
    assert json.loads(format_json(diff))["changed"] is False


def test_every_kind_of_change_is_reported() -> None:
    before = [
        summary("stg", "stg", schedule=DAILY7, tz="Asia/Tokyo"),
        summary("old_name", "x", "y", schedule=DAILY7),
        summary("gone", "gone"),
        summary("marts", "m1", "m2", "m3", schedule=DAILY7, requires=("stg", "gone")),
        summary("report", "report", schedule=DAILY7),
        summary("hourly", "hourly", schedule={"hourly>": "05:00"}, window="current"),
    ]
    after = [
        summary("stg", "stg", schedule={"daily>": "06:00:00"}, tz="Asia/Tokyo"),
        summary("new_name", "x", "y", schedule=DAILY7),
        summary("fresh", "fresh", "m3", schedule={"hourly>": "30:00"}),
        summary("marts", "m1", "m4", schedule=DAILY7, requires=("stg", "fresh")),
        summary("report", "report"),
        summary("hourly", "hourly", schedule={"hourly>": "05:00"}, window="previous"),
    ]
    diff = diff_summaries(before, after, now=NOW)
    assert diff.has_changes
    assert [a.workflow.name for a in diff.added] == ["fresh"]
    first = diff.added[0].next
    assert first is not None and first.run_at == datetime(2024, 3, 1, 0, 30, tzinfo=UTC)
    assert [w.name for w in diff.removed] == ["gone"]
    assert diff.renamed == (("old_name", "new_name"),)
    changes = {c.name: c for c in diff.changed}
    assert set(changes) == {"stg", "new_name", "marts", "report", "hourly"}
    stg = changes["stg"].schedule
    assert stg is not None and (stg.before, stg.after) == ("daily>: 07:00:00 (Asia/Tokyo)",
                                                           "daily>: 06:00:00 (Asia/Tokyo)")
    assert stg.next_before is not None and stg.next_before.run_at == datetime(2024, 3, 2, 7, tzinfo=TOKYO)
    assert stg.next_after is not None and stg.next_after.run_at == datetime(2024, 3, 2, 6, tzinfo=TOKYO)
    marts = changes["marts"]
    assert (marts.gained, marts.lost) == (("m4",), ("m2", "m3"))
    assert (marts.requires_added, marts.requires_removed) == (("fresh",), ("gone",))
    assert changes["report"].schedule is not None and changes["report"].schedule.after == "no schedule"
    assert changes["report"].schedule.next_after is None
    assert changes["hourly"].window == ("current", "previous")
    assert [(n.model, n.before, n.after) for n in diff.unscheduled] == [("report", "report", "report")]
    assert [(n.model, n.before) for n in diff.dropped] == [("gone", "gone"), ("m2", "marts")]
    assert [(n.model, n.before, n.after) for n in diff.moved] == [("m3", "marts", "fresh")]

    text = format_text(diff)
    assert text.splitlines()[0] == "gen diff: 1 added, 1 removed, 1 renamed, 4 changed (6 -> 6 workflows)"
    for line in [
        "+ workflow fresh added: hourly>: 30:00 (UTC), builds fresh, m3; next run 2024-03-01 00:30+00:00",
        "- workflow gone removed (was no schedule, built gone)",
        "~ workflow old_name renamed to new_name (same select list)",
        "~ stg: schedule daily>: 07:00:00 (Asia/Tokyo) -> daily>: 06:00:00 (Asia/Tokyo); next run "
        "2024-03-02 07:00+09:00 -> 2024-03-02 06:00+09:00",
        "~ marts: now also builds m4", "~ marts: no longer builds m2, m3",
        "~ marts: new require> on fresh", "~ marts: require> removed on gone",
        "~ hourly: data window current -> previous",
        "! model report is no longer scheduled (was in report, now in report, which has no schedule)",
        "! model m2 left every workflow (was in marts); nothing builds it now",
        "~ model m3 moved from workflow marts to fresh",
    ]:
        assert line in text.splitlines(), line

    markdown = format_markdown(diff)
    assert markdown.startswith(MARKDOWN_MARK + "\n### Digdag workflows (gen diff)\n")
    assert ("| `stg` | `daily>: 07:00:00 (Asia/Tokyo)` | `daily>: 06:00:00 (Asia/Tokyo)` | "
            "2024-03-02 07:00+09:00 | 2024-03-02 06:00+09:00 |") in markdown
    assert "- `old_name` → `new_name` (same select list)" in markdown
    assert "- :warning: model `m2` **left every workflow** (was in `marts`); nothing builds it" in markdown
    assert ("- :warning: model `report` is **no longer scheduled** (workflow `report` lost its "
            "schedule)") in markdown
    assert "| `fresh` | `hourly>: 30:00 (UTC)` | `fresh`, `m3` | 2024-03-01 00:30+00:00 |" in markdown

    data = json.loads(format_diff(diff, "json"))
    assert data["renamed"] == [{"from": "old_name", "to": "new_name"}]
    assert data["added"][0]["next_run"] == {"run_at": "2024-03-01T00:30:00+00:00",
                                            "session_time": "2024-03-01T00:00:00+00:00"}
    assert data["models_dropped"] == [{"after": None, "before": "gone", "model": "gone"},
                                      {"after": None, "before": "marts", "model": "m2"}]


def test_a_rename_needs_the_same_select_list() -> None:
    before = [summary("a", "x", "y")]
    diff = diff_summaries(before, [summary("b", "x", "y", "z")], now=NOW)
    assert diff.renamed == ()
    assert [w.name for w in diff.removed] == ["a"] and [a.workflow.name for a in diff.added] == ["b"]
    renamed = diff_summaries(before, [summary("b", "x", "y", schedule=DAILY7)], now=NOW)
    (change,) = renamed.changed
    assert change.renamed_from == "a" and change.schedule is not None
    assert format_text(renamed).splitlines()[0] == "gen diff: 1 renamed, 1 changed (1 -> 1 workflow)"


def test_a_timezone_change_alone_is_a_schedule_change() -> None:
    diff = diff_summaries([summary("a", "a", schedule=DAILY7, tz="UTC")],
                          [summary("a", "a", schedule=DAILY7, tz="Asia/Tokyo")], now=NOW)
    (change,) = diff.changed
    assert change.schedule is not None
    assert change.schedule.next_before is not None and change.schedule.next_after is not None
    assert change.schedule.next_before.run_at == datetime(2024, 3, 1, 7, tzinfo=UTC)
    assert change.schedule.next_after.run_at == datetime(2024, 3, 2, 7, tzinfo=TOKYO)
    # an unscheduled workflow's timezone does not matter
    quiet = diff_summaries([summary("a", "a", tz="UTC")], [summary("a", "a", tz="Asia/Tokyo")], now=NOW)
    assert not quiet.has_changes


def test_plan_to_plan_diff(tmp_path: Path) -> None:
    """The --base/--head path: summaries straight from two plans."""
    first = tmp_path / "a.json"
    first.write_text(json.dumps(manifest_dict(node("a", meta={"schedule": DAILY7}),
                                              node("b", deps=("model.shop.a",)))))
    second = tmp_path / "b.json"
    second.write_text(json.dumps(manifest_dict(node("a", meta={"schedule": DAILY7}), node("c"))))
    config = parse_config({}, where="gen.yml")
    plans = [plan_workflows(load_manifest(p), config) for p in (first, second)]
    diff = diff_summaries(summarize_plan(plans[0]), summarize_plan(plans[1]), now=NOW)
    assert [w.name for w in diff.removed] == ["b"]
    assert [a.workflow.name for a in diff.added] == ["c"]
    assert [n.model for n in diff.dropped] == ["b"]
    no_requires = replace(plans[0], workflows=tuple(replace_struct(w, requires=()) for w in plans[0].workflows))
    assert diff_summaries(summarize_plan(plans[0]), summarize_plan(no_requires), now=NOW).changed[0] \
        .requires_removed == ("a",)
