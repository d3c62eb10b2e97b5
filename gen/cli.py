"""The `gen` command line: builds inputs, runs the pipeline, prints, and decides exit codes.

Exit codes: 0 ok / up to date / no change, 1 --check or `gen diff` found changes or `gen check` found
coverage gaps, 2 bad input or config (or a missing tool), 3 internal error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from gen import __version__
from gen.errors import GenError

EXIT_OK, EXIT_CHANGES, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


def _pyproject_defaults() -> dict[str, Any]:
    """[tool.gen] of ./pyproject.toml: default flags for running gen from a repository's root."""
    path = Path("pyproject.toml")
    if not path.is_file():
        return {}
    import tomllib  # here: most runs have no pyproject.toml to read

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise click.UsageError(f"pyproject.toml: cannot be read: {e}") from e
    section = data.get("tool", {}).get("gen", {})
    allowed = {"project-dir", "out", "manifest", "config", "profiles-dir", "templates"}
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise click.UsageError(f"pyproject.toml: unknown key [tool.gen] {unknown[0]} "
                               f"(allowed: {', '.join(sorted(allowed))})")
    return {k.replace("-", "_"): v for k, v in section.items()}


def _print_traceback() -> None:
    import traceback  # only for --debug

    traceback.print_exc()


def run_guarded(func: Callable[[], int], *, debug: bool) -> NoReturn:
    """Run a command body; map GenError to its exit code and anything else to 3 (traceback if --debug)."""
    try:
        code = func()
    except GenError as e:
        if debug:
            _print_traceback()
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except Exception as e:  # the one place that turns a bug into exit code 3
        if debug:
            _print_traceback()
        click.echo(f"internal error: {type(e).__name__}: {e} (run `gen --debug ...` for the traceback)", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gen")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def cli(ctx: click.Context, /, debug: bool) -> None:
    """Generate a Digdag project from a dbt project's manifest."""
    ctx.obj = {"debug": debug, "defaults": _pyproject_defaults()}


def input_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options every command that reads a dbt project shares."""
    options = [
        click.option("--project-dir", type=click.Path(path_type=Path), default=None,
                     help="dbt project folder (default: [tool.gen] project-dir, else .)."),
        click.option("--manifest", type=click.Path(path_type=Path), default=None,
                     help="manifest.json to read (default: <project-dir>/target/manifest.json)."),
        click.option("--parse", is_flag=True, help="Run `dbt parse` through dbt-core first."),
        click.option("--profiles-dir", type=click.Path(path_type=Path), default=None,
                     help="dbt profiles folder for --parse (default: the project dir if it has profiles.yml)."),
        click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
                     help="gen.yml (default: gen.yml next to dbt_project.yml)."),
        click.option("--templates", type=click.Path(path_type=Path), default=None,
                     help="Folder of templates that override the built-in ones."),
        click.option("--project-name", default=None,
                     help="Root dbt project name, for old manifests that do not record it."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def build_inputs(ctx: click.Context, /, **kw: Any) -> Any:
    """Inputs from flags, falling back to [tool.gen] defaults."""
    from gen.inputs import Inputs, stale_manifest

    defaults = ctx.obj["defaults"]

    def pick(name: str) -> Path | None:
        value = kw.get(name)
        if value is None and name in defaults:
            value = Path(defaults[name])
        return Path(value) if value is not None else None

    inputs = Inputs(project_dir=pick("project_dir") or Path("."), manifest=pick("manifest"),
                    config=pick("config_path") or pick("config"), parse=kw["parse"],
                    profiles_dir=pick("profiles_dir"), project_name=kw.get("project_name"),
                    templates=str(pick("templates")) if pick("templates") else None)
    stale = stale_manifest(inputs)
    if stale:
        click.echo(f"warning: {stale}", err=True)
    return inputs


def out_dir(ctx: click.Context, /, value: Path | None, inputs: Any) -> Path:
    """--out, else [tool.gen] out, else out/ in the dbt project folder."""
    if value is not None:
        return value
    if "out" in ctx.obj["defaults"]:
        return Path(ctx.obj["defaults"]["out"])
    return Path(inputs.project_dir) / "out"


@cli.command()
@input_options
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: out/ in the dbt project folder).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff if out/ is not up to date.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff of what changes.")
@click.option("--dry-run", is_flag=True, help="Write nothing; say what would change.")
@click.option("--force", is_flag=True, help="Overwrite files in out/ that gen did not write.")
@click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=0, show_default=True,
              help="Processes that render and write files (0: one per core, for large projects only).")
@click.option("--no-cache", is_flag=True,
              help="Neither use nor write the up-to-date record (a run then always reads the manifest).")
@click.pass_context
def workflows(ctx: click.Context, /, out: Path | None, check: bool, show_diff: bool, dry_run: bool, force: bool,
              quiet: bool, jobs: int, no_cache: bool, **kw: Any) -> None:
    """Write one Digdag workflow per table (or meta.digdag.workflow group) into out/."""

    def body() -> int:
        inputs = build_inputs(ctx, **kw)
        target = out_dir(ctx, out, inputs)
        dry = check or dry_run
        record = not (dry or no_cache or inputs.parse)
        if record and _replay_if_up_to_date(inputs, target, quiet=quiet):
            return EXIT_OK

        from gen import stamp
        from gen.output import Changes, apply_tree, compare_tree
        from gen.pipeline import generate
        from gen.report import foreign_note, summary

        result = generate(inputs)
        for warning in result.plan.warnings:
            click.echo(f"warning: {warning}", err=True)
        if dry:
            changes = compare_tree(result.tree, target, force=force, with_diff=check or show_diff, jobs=jobs)
        else:
            if show_diff:
                preview = compare_tree(result.tree, target, force=force, with_diff=True, jobs=jobs)
                click.echo("".join(preview.diffs.values()), nl=False)
            if record:
                stamp.forget(target)
            changes = apply_tree(result.tree, target, force=force, jobs=jobs)
        notes = foreign_note(changes, out=str(target))
        for line in notes:
            click.echo(line, err=True)
        if dry and (check or show_diff):
            click.echo("".join(changes.diffs.values()), nl=False)
        if not quiet:
            for line in summary(result.plan, changes, out=str(target), dry=dry, projects=len(result.tree.projects)):
                click.echo(line, err=check)
        if record:
            stamp.save(target, key=_record_key(inputs, target, result.manifest.path, result.manifest.file_sha256),
                       digests=changes.digests, foreign=changes.foreign, user_templates=result.templates,
                       zones={result.config.timezone, *(w.timezone for w in result.plan.workflows)},
                       warnings=result.plan.warnings, notes=notes,
                       summary=summary(result.plan, Changes(unchanged=tuple(result.tree), foreign=changes.foreign),
                                       out=str(target), dry=False, projects=len(result.tree.projects)))
        gaps = _report_coverage(result, quiet=quiet) if check else False
        if check and changes.changed:
            click.echo(f"error: {target} is not up to date; run `gen workflows` and commit the result",
                       err=True)
            return EXIT_CHANGES
        return EXIT_CHANGES if gaps else EXIT_OK

    run_guarded(body, debug=ctx.obj["debug"])


def _record_key(inputs: Any, target: Path, manifest: str, manifest_sha256: str) -> str:
    """The up-to-date record's key for this run's inputs (see gen.stamp)."""
    from gen import stamp
    from gen.inputs import config_path

    return stamp.input_key(
        manifest=manifest, manifest_sha256=manifest_sha256, config=config_path(inputs),
        options={"out": str(target), "project_dir": str(inputs.project_dir), "project_name": inputs.project_name,
                 "templates": inputs.templates, "config_given": inputs.config is not None})


def _replay_if_up_to_date(inputs: Any, target: Path, *, quiet: bool) -> bool:
    """When the up-to-date record of out/ still holds, print what that run printed and say so."""
    from gen import stamp
    from gen.inputs import resolve_manifest

    if not stamp.record_path(target).is_file():
        return False
    manifest = str(resolve_manifest(inputs))
    digest = stamp.file_sha256(manifest)
    found = stamp.lookup(target, _record_key(inputs, target, manifest, digest)) if digest else None
    if found is None:
        return False
    for warning in found.warnings:
        click.echo(f"warning: {warning}", err=True)
    for line in found.notes:
        click.echo(line, err=True)
    if not quiet:
        for line in found.summary:
            click.echo(line)
    return True


@cli.command()
@input_options
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Generated project (default: out/).")
@click.option("--endpoint", envvar="DIGDAG_ENDPOINT", required=True,
              help="Digdag server URL, e.g. https://digdag.example.com (or DIGDAG_ENDPOINT).")
@click.option("--project", "project_name_override", default=None,
              help="Digdag project name (default: `project` in gen.yml, else the dbt project name).")
@click.option("--revision", default=None, help="Revision name (default: the dbt project's git commit).")
@click.option("--schedule-from", default=None,
              help="Start schedules from this time (ISO 8601), instead of now; earlier sessions are not run.")
@click.option("--insecure", is_flag=True, help="Do not verify the server's TLS certificate.")
@click.pass_context
def push(ctx: click.Context, /, out: Path | None, endpoint: str, project_name_override: str | None,
         revision: str | None, schedule_from: str | None, insecure: bool, **kw: Any) -> None:
    """Upload out/ to a Digdag server, only when it is exactly what generation produces now.

    Credentials are read from the environment: DIGDAG_TOKEN (bearer) or DIGDAG_AUTH_HEADER ("Name: value").
    """

    def body() -> int:
        import os

        from gen.output import compare_tree
        from gen.pipeline import generate
        from gen.push import Client, auth_headers, git_revision, push_project

        inputs = build_inputs(ctx, **kw)
        target = out_dir(ctx, out, inputs)
        result = generate(inputs)
        changes = compare_tree(result.tree, target)
        if changes.changed or not target.is_dir():
            click.echo(f"error: {target} is not up to date with the dbt project "
                       f"({len(changes.created)} missing, {len(changes.updated)} different, "
                       f"{len(changes.deleted)} stale file(s)); run `gen workflows` first, nothing was pushed",
                       err=True)
            return EXIT_CHANGES
        if changes.foreign:
            click.echo(f"warning: uploading {len(changes.foreign)} file(s) gen did not write: "
                       f"{', '.join(changes.foreign[:5])}", err=True)
        projects = result.tree.projects
        if project_name_override and len(projects) > 1:
            click.echo(f"error: --project names one Digdag project, but {target} holds {len(projects)} "
                       "(the output is split to fit Digdag's archive limit); nothing was pushed", err=True)
            return EXIT_INPUT
        rev = revision or git_revision(inputs.project_dir) or f"manifest-{result.manifest.digest[:12]}"
        client = Client(endpoint, headers=auth_headers(dict(os.environ)), insecure=insecure)
        for project in projects:  # upstream projects first
            folder = target / project.folder if project.folder else target
            name = project_name_override or project.name
            pushed = push_project(client, folder, project=name, revision=rev, schedule_from=schedule_from)
            click.echo(f"pushed {folder} to {client.endpoint} as project {pushed.project} "
                       f"(id {pushed.project_id}), revision {pushed.revision}")
            click.echo(f"{len(pushed.workflows)} workflows, {len(pushed.schedules)} schedules:")
            width = max((len(s.workflow) for s in pushed.schedules), default=0)
            for sched in pushed.schedules:
                click.echo(f"  {sched.workflow.ljust(width)}  next session {sched.next_session_time}  "
                           f"runs at {sched.next_run_time}")
        return EXIT_OK

    run_guarded(body, debug=ctx.obj["debug"])


# --- review commands: coverage check, semantic diff, workflow picture --------------------------------


def _report_coverage(result: Any, *, quiet: bool) -> bool:
    """Print the coverage check of a generation (to stderr); True when it found gaps."""
    from gen.coverage import check_coverage, coverage_lines

    coverage = check_coverage(result.manifest, result.plan, include_packages=result.config.include_packages)
    if not coverage.ok or not quiet:
        for line in coverage_lines(coverage):
            click.echo(line, err=True)
    if not coverage.ok:
        click.echo(f"error: {len(coverage.gaps)} coverage gap(s): every enabled model, seed and snapshot "
                   "must be built by exactly one workflow", err=True)
    return not coverage.ok


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
        from gen.pipeline import generate

        result = generate(build_inputs(ctx, **kw))
        for warning in result.plan.warnings:
            click.echo(f"warning: {warning}", err=True)
        return EXIT_CHANGES if _report_coverage(result, quiet=quiet) else EXIT_OK

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
        from gen.pipeline import generate

        inputs = build_inputs(ctx, **kw)
        if head is not None:
            inputs = replace(inputs, manifest=head, parse=False)
        after = generate(inputs).plan
        for warning in after.warnings:
            click.echo(f"warning: {warning}", err=True)
        if base is not None:
            before = summarize_plan(generate(replace(inputs, manifest=base, parse=False)).plan)
        else:
            target = out_dir(ctx, out, inputs)
            project = read_project(target)
            if project.foreign:
                click.echo(f"warning: {target}: not comparing {len(project.foreign)} .dig file(s) gen did "
                           f"not write: {', '.join(project.foreign[:5])}", err=True)
            before = project.workflows
        result = diff_summaries(before, summarize_plan(after), now=now)
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
        from gen.pipeline import generate

        plan = generate(build_inputs(ctx, **kw)).plan
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
            for line in format_text(result):
                click.echo(line)
        failing = result.count("error") + (result.count("warning") if fail_on == "warning" else 0)
        return EXIT_CHANGES if failing else EXIT_OK

    run_guarded(body, debug=ctx.obj["debug"])


def main() -> None:
    """Console-script entry point."""
    # A run builds millions of objects that live until it exits: freeing them one by one at exit would be
    # pure overhead, so gen exits hard once the output is flushed (nothing gen does needs an atexit
    # handler; every file is complete and closed before a command returns).
    code: int | str | None = 0
    try:
        cli(prog_name="gen")
    except SystemExit as e:
        code = e.code
    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        code = code or 1
    if "multiprocessing.synchronize" in sys.modules:
        # dbt (run in-process by --parse) made semaphores: a normal exit runs multiprocessing's finalizers,
        # which release them; a hard exit would leave its resource tracker warning about leaked ones.
        sys.exit(code)
    os._exit(code)
