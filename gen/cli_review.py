"""The review commands: `gen check`, `gen diff`, `gen graph` and `gen lint` (commands of the `gen` group, gen.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gen.cli import (
    EXIT_CHANGES,
    EXIT_INPUT,
    EXIT_OK,
    build_inputs,
    cli,
    echo_lines,
    echo_warnings,
    input_options,
    out_dir,
    report_coverage,
    run_guarded,
)
from gen.errors import GenError


@cli.command("check")
@input_options
@click.option("-q", "--quiet", is_flag=True, help="Print only gaps, warnings and errors.")
@click.pass_context
def check_command(ctx: click.Context, /, quiet: bool, **kw: Any) -> None:
    """Check that every enabled model, seed and snapshot is built by exactly one workflow.

    Each workflow's select list is resolved the way dbt resolves --select. Exit codes: 0 covered,
    1 a node is built by no workflow or by several (or a select builds nothing), 2 bad input.
    """

    def body() -> int:
        from gen.pipeline import plan_inputs

        result = plan_inputs(build_inputs(ctx, **kw))
        echo_warnings(result.plan.warnings)
        return EXIT_CHANGES if report_coverage(result, quiet=quiet) else EXIT_OK

    run_guarded(body, debug=ctx.obj["debug"])


def _parse_now(ctx: click.Context, /, param: click.Parameter, value: str | None) -> Any:
    from datetime import UTC, datetime

    from gen.nextrun import parse_now

    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        return parse_now(value)
    except ValueError as e:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time such as 2024-03-01T00:00:00Z") from e


@cli.command("diff")
@input_options
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="The committed generated project to compare with (default: out/).")
@click.option("--base", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Compare plans instead: the old manifest.json (same gen.yml for both sides).")
@click.option("--head", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The new manifest.json for --base (default: what the input options give now).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True, help="markdown is ready to post as a pull-request comment.")
@click.option("--now", callback=_parse_now, default=None,
              help="Count next run times from this moment (ISO 8601; default: the current time).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when something changed (report-only CI steps).")
@click.pass_context
def diff_command(ctx: click.Context, /, out: Path | None, base: Path | None, head: Path | None, fmt: str,
                 now: Any, exit_zero: bool, **kw: Any) -> None:
    """Say what changes in the workflows: the committed out/ against generation now, or --base against --head.

    Reports workflows added, removed or renamed; schedule and timezone changes with the next run before
    and after; select lists gaining or losing models; require> dependencies added or removed; models
    that lost their schedule or left every workflow. Exit codes: 0 no change, 1 changes, 2 bad input.
    """

    if head is not None and base is None:
        raise click.UsageError("--head needs --base (without --base, gen diff compares with out/)")

    def body() -> int:
        from dataclasses import replace

        from gen.diff import diff_summaries
        from gen.diffreport import format_diff
        from gen.digread import read_project, summarize_plan
        from gen.pipeline import generate, plan_inputs

        inputs = build_inputs(ctx, **kw)
        if head is not None:
            inputs = replace(inputs, manifest=head, parse=False)
        if base is None:  # against out/: the files are rendered too
            generated = generate(inputs)
            after, tree = generated.plan, generated.tree
        else:
            after, tree = plan_inputs(inputs).plan, None
        echo_warnings(after.warnings)
        planned = summarize_plan(after)
        if tree is None:
            before = summarize_plan(plan_inputs(replace(inputs, manifest=base, parse=False)).plan)
        else:
            target = out_dir(ctx, out, inputs)
            # A committed file that is exactly what gen renders now says what the plan says: not parsed.
            summaries = {s.name: s for s in planned}
            project = read_project(target, known={path: (tree[path], summaries[name])
                                                  for path, name in tree.workflow_files().items()})
            if project.foreign:
                click.echo(f"warning: {target}: not comparing {len(project.foreign)} .dig file(s) gen did "
                           f"not write: {', '.join(project.foreign[:5])}", err=True)
            before = project.workflows
        result = diff_summaries(before, planned, now=now)
        click.echo(format_diff(result, fmt), nl=False)
        return EXIT_CHANGES if result.has_changes and not exit_zero else EXIT_OK

    run_guarded(body, debug=ctx.obj["debug"])


@cli.command("graph")
@input_options
@click.option("--format", "fmt", type=click.Choice(["mermaid", "markdown", "dot", "svg", "png"]),
              default="mermaid", show_default=True,
              help="markdown: Mermaid in a ```mermaid fence; svg and png need Graphviz `dot`.")
@click.option("--select", "select", multiple=True, metavar="WORKFLOW",
              help="Draw only this workflow and its up- and downstream workflows (repeatable).")
@click.option("--depth", type=click.IntRange(min=0), default=None,
              help="With --select: how many steps up- and downstream (default: all).")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the picture to this file instead of stdout.")
@click.pass_context
def graph_command(ctx: click.Context, /, fmt: str, select: tuple[str, ...], depth: int | None,
                  output: Path | None, **kw: Any) -> None:
    """Draw the workflows and their dependencies, coloured by schedule (Mermaid, DOT, SVG or PNG)."""

    if depth is not None and not select:
        raise click.UsageError("--depth needs --select")

    def body() -> int:
        from gen.picture import picture_of, to_dot, to_markdown, to_mermaid
        from gen.pipeline import plan_inputs

        plan = plan_inputs(build_inputs(ctx, **kw)).plan
        picture = picture_of(plan, select=select, depth=depth)
        if fmt in ("svg", "png"):
            from gen.graphviz import render_image

            data = render_image(to_dot(picture), fmt)
        else:
            text = {"mermaid": to_mermaid, "markdown": to_markdown, "dot": to_dot}[fmt](picture)
            data = text.encode("utf-8")
        if output is None:
            click.echo(data, nl=False)
        else:
            try:
                output.write_bytes(data)
            except OSError as e:
                raise GenError(f"cannot write the picture: {e.strerror or e}", source=str(output)) from e
        return EXIT_OK

    run_guarded(body, debug=ctx.obj["debug"])


@cli.command("lint")
@input_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--ignore", "ignore", multiple=True, metavar="RULE",
              help="Silence a rule (id such as GEN302, or name) for every model (repeatable).")
@click.option("--expected-runtime", default="30m", show_default=True, metavar="DURATION",
              help="How long an upstream workflow usually runs (GEN302), e.g. 45m or 1h30m.")
@click.option("--fail-on", type=click.Choice(["error", "warning"]), default="error", show_default=True,
              help="Exit 1 when a finding of this severity (or worse) remains.")
@click.pass_context
def lint_command(ctx: click.Context, /, fmt: str, ignore: tuple[str, ...], expected_runtime: str, fail_on: str,
                 **kw: Any) -> None:
    """Find models that a Digdag session cannot re-run safely (exit 1 on error-level findings)."""

    def body() -> int:
        from gen.findings import RULES, rule_id
        from gen.lint import LintOptions, format_json, format_text, lint_inputs, parse_duration

        unknown = [rule for rule in ignore if rule_id(rule) is None]
        if unknown:
            click.echo(f"error: --ignore {unknown[0]}: no such rule (rules: {', '.join(sorted(RULES))}, or their "
                       "names)", err=True)
            return EXIT_INPUT
        runtime = parse_duration(expected_runtime, where="--expected-runtime")
        result = lint_inputs(build_inputs(ctx, **kw),
                             options=LintOptions(expected_runtime_seconds=runtime, ignore=ignore))
        if fmt == "json":
            click.echo(format_json(result))
        else:
            echo_lines(format_text(result))
        failing = result.count("error") + (result.count("warning") if fail_on == "warning" else 0)
        return EXIT_CHANGES if failing else EXIT_OK

    run_guarded(body, debug=ctx.obj["debug"])
