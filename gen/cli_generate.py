"""`gen workflows` and `gen push`: write out/ and upload it (commands of the `gen` group, gen.cli)."""

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


@cli.command()
@input_options
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: out/ in the dbt project folder).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff if out/ is not up to date.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff of what changes.")
@click.option("--dry-run", is_flag=True, help="Write nothing; say what would change.")
@click.option("--force", is_flag=True, help="Overwrite files in out/ that gen did not write.")
@click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors.")
@click.option("--no-cache", is_flag=True,
              help="Neither use nor write the up-to-date record (a run then always reads the manifest).")
@click.pass_context
def workflows(ctx: click.Context, /, out: Path | None, check: bool, show_diff: bool, dry_run: bool, force: bool,
              quiet: bool, no_cache: bool, **kw: Any) -> None:
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

        result = generate(inputs, digest=record)
        echo_warnings(result.plan.warnings)
        if dry:
            changes = compare_tree(result.tree, target, force=force, with_diff=check or show_diff)
        else:
            if show_diff:
                preview = compare_tree(result.tree, target, force=force, with_diff=True)
                click.echo("".join(preview.diffs.values()), nl=False)
            if record:
                stamp.forget(target)
            changes = apply_tree(result.tree, target, force=force)
        notes = foreign_note(changes, out=str(target))
        echo_lines(notes, err=True)
        if dry and (check or show_diff):
            click.echo("".join(changes.diffs.values()), nl=False)
        if not quiet:
            echo_lines(summary(result.plan, changes, out=str(target), dry=dry, projects=len(result.tree.projects)),
                       err=check)
        if record:
            stamp.save(target, key=_record_key(inputs, target, result.manifest.path, result.manifest.file_sha256),
                       digests=changes.digests, foreign=changes.foreign, user_templates=result.templates,
                       zones={result.config.timezone, *(w.timezone for w in result.plan.workflows)},
                       warnings=result.plan.warnings, notes=notes,
                       summary=summary(result.plan, Changes(unchanged=tuple(result.tree), foreign=changes.foreign),
                                       out=str(target), dry=False, projects=len(result.tree.projects)))
        gaps = report_coverage(result, quiet=quiet) if check else False
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
    echo_warnings(found.warnings)
    echo_lines(found.notes, err=True)
    if not quiet:
        echo_lines(found.summary)
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
