"""The workflow picture: Mermaid and DOT text, neighbourhoods, Graphviz images, and docs/graph.md."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from gen.config import load_config, parse_config
from gen.errors import PlanError, ToolError
from gen.graphviz import render_image
from gen.ir import Plan
from gen.manifest import load_manifest
from gen.picture import picture_of, to_dot, to_markdown, to_mermaid
from gen.plan import plan_workflows
from tests.conftest import REPO, require_tool
from tests.golden_cases import CASES


@pytest.fixture
def plan(tmp_path: Path) -> Plan:
    """The golden `every_schedule` case: every schedule kind, a group, an unaligned (require-less) edge."""
    manifest, config = CASES["every_schedule"]()
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest))
    return plan_workflows(load_manifest(path), parse_config(config, where="gen.yml"))


def edges(mermaid: str) -> set[tuple[str, str, str]]:
    return {(m[1], m[2], m[3]) for m in re.finditer(r"^  wf_(\w+) (-->|-\. no require \.->) wf_(\w+)$",
                                                     mermaid, re.MULTILINE)}


def test_mermaid_has_every_workflow_coloured_by_schedule_and_every_dependency(plan: Plan) -> None:
    text = to_mermaid(picture_of(plan))
    assert text.startswith("flowchart LR\n")
    for workflow in plan.workflows:
        kind = workflow.schedule.kind if workflow.schedule else "unscheduled"
        pattern = rf'^  wf_{workflow.name}\["{workflow.name}<br/>.*<br/>{workflow.timezone}"\]:::{kind}$'
        assert re.search(pattern, text, re.MULTILINE), workflow.name
    assert '  wf_events_daily["events_daily<br/>daily 02:00:00<br/>America/New_York"]:::daily' in text
    assert '  wf_raw_events["raw_events<br/>minutes interval 15<br/>UTC"]:::minutes_interval' in text
    expected = {(up, "-->" if up in {r.upstream for r in w.requires} else "-. no require .->", w.name)
                for w in plan.workflows for up in w.upstreams}
    assert edges(text) == expected
    # odd_cron shares no grid with events_daily: drawn dashed, as no require> enforces it
    assert ("events_daily", "-. no require .->", "odd_cron") in expected
    for kind in ("minutes_interval", "hourly", "daily", "weekly", "monthly", "cron", "unscheduled"):
        assert re.search(rf"^  classDef {kind} fill:#[0-9a-f]{{6}},stroke:#[0-9a-f]{{6}},", text,
                         re.MULTILINE)
        assert f":::{kind}\n" in text.split('subgraph legend["schedule"]')[1]
    assert to_markdown(picture_of(plan)) == "```mermaid\n" + text + "```\n"


def test_neighbourhood_by_depth(plan: Plan) -> None:
    def names(depth: int | None) -> set[str]:
        return {n.name for n in picture_of(plan, select=["events_daily"], depth=depth).nodes}

    assert names(0) == {"events_daily"}
    assert names(1) == {"events_daily", "events_hourly", "events_weekly", "events_monthly", "report_cron",
                        "adhoc", "odd_cron"}
    assert names(None) == names(1) | {"raw_events"}
    # siblings are not neighbours: fct_orders_v2 reads raw_events too, but is not up- or downstream
    assert "fct_orders_v2" not in names(None)
    focused = picture_of(plan, select=["events_daily"], depth=1)
    assert [n.name for n in focused.nodes if n.focus] == ["events_daily"]
    assert all(e.upstream in names(1) and e.reader in names(1) for e in focused.edges)
    assert "  style wf_events_daily stroke-width:4px" in to_mermaid(focused)
    assert "penwidth=3" in to_dot(focused)


def test_unknown_workflow_is_an_error_listing_some(plan: Plan) -> None:
    listed = r"no workflow named 'nope'; there are 13: adhoc, countries, .* odd_cron \.\.\.$"
    with pytest.raises(PlanError, match=listed):
        picture_of(plan, select=["nope"])


def test_labels_are_escaped() -> None:
    from gen.picture import Picture, PictureNode

    box = PictureNode(name="a", kind="cron", lines=('a "b" <c> #d', "x\\y"), focus=False)
    picture = Picture(nodes=(box,), edges=())
    assert '["a #quot;b#quot; #lt;c#gt; #35;d<br/>x\\y"]' in to_mermaid(picture)
    assert 'label="a \\"b\\" <c> #d\\nx\\\\y"' in to_dot(picture)


def test_dot_is_valid_graphviz_and_renders(plan: Plan, tmp_path: Path) -> None:
    dot = require_tool("dot")
    text = to_dot(picture_of(plan))
    check = subprocess.run([str(dot), "-Tcanon"], input=text, capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    svg = render_image(text, "svg", dot=str(dot)).decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "events_daily" in svg
    png = render_image(text, "png", dot=str(dot))
    assert png.startswith(b"\x89PNG")


def test_missing_or_failing_graphviz_is_a_tool_error(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match=r"--format svg needs Graphviz, but `no-such-dot` is not on PATH"):
        render_image("digraph {}", "svg", dot="no-such-dot")
    broken = tmp_path / "dot"
    broken.write_text("#!/bin/sh\necho 'Error: syntax error in line 1' >&2\nexit 1\n")
    os.chmod(broken, 0o755)
    with pytest.raises(ToolError, match="exited with 1: Error: syntax error in line 1"):
        render_image("digraph {", "svg", dot=str(broken))


@pytest.mark.dbt
def test_docs_graph_is_the_picture_of_the_example(parsed_shop: Path) -> None:
    """docs/graph.md is `gen graph --format markdown` of examples/shop; regenerate with `make graph`."""
    plan = plan_workflows(load_manifest(parsed_shop / "target" / "manifest.json"),
                          load_config(parsed_shop / "gen.yml", required=True))
    committed = (REPO / "docs" / "graph.md").read_text(encoding="utf-8")
    assert committed == to_markdown(picture_of(plan)), "docs/graph.md is stale; run `make graph`"
