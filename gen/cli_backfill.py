"""`gen backfill`: re-run a table and everything downstream of it for a time range (a command of gen.cli)."""

from __future__ import annotations

import re
from typing import Any

import click

from gen.cli import EXIT_CHANGES, EXIT_OK, build_inputs, cli, input_options, run_guarded
from gen.errors import GenError


@cli.command("backfill")
@input_options
@click.option("--select", "selectors", multiple=True, required=True, metavar="SELECTOR",
              help="dbt nodes whose data is repaired: name, tag:..., path:..., package:... (repeatable).")
@click.option("--from", "start", required=True, metavar="WHEN",
              help="Start of the repaired data: a date (2024-03-01) or an ISO 8601 time.")
@click.option("--to", "stop", required=True, metavar="WHEN",
              help="End of the repaired data: a date (included) or an ISO 8601 time (excluded).")
@click.option("--timezone", default=None,
              help="Zone of --from/--to without an offset (default: the selected workflows' timezone).")
@click.option("--downstream", is_flag=True, help="Also re-run every workflow that reads them, transitively.")
@click.option("--execute", is_flag=True, help="Start the sessions on the Digdag server (default: print the plan).")
@click.option("--endpoint", envvar="DIGDAG_ENDPOINT", default=None,
              help="Digdag server URL for --execute (or DIGDAG_ENDPOINT).")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A parameter for every attempt, as `digdag start -p` (repeatable).")
@click.option("--parallel", type=click.IntRange(min=1), default=4, show_default=True,
              help="Sessions running at once.")
@click.option("--poll-seconds", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="How often running attempts are checked.")
@click.option("--id", "backfill_id", default=None,
              help="Name of this backfill (default: derived from its sessions; the same command resumes it).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--insecure", is_flag=True, help="Do not verify the server's TLS certificate.")
@click.pass_context
def backfill_command(ctx: click.Context, /, selectors: tuple[str, ...], start: str, stop: str, timezone: str | None,
                     downstream: bool, execute: bool, endpoint: str | None, params: tuple[str, ...], parallel: int,
                     poll_seconds: float, backfill_id: str | None, fmt: str, insecure: bool, **kw: Any) -> None:
    """Re-run the workflows of the selected dbt nodes (and, with --downstream, of everything reading them)
    for every session whose data lies in a time range, upstream sessions first.

    Without --execute it prints the plan and needs no server. Exit codes: 0 every session succeeded (or
    only the plan was asked for), 1 a session failed or was not run because what it reads failed, 2 bad
    input or a server error.
    """
    if execute and not endpoint:
        raise click.UsageError("--execute needs --endpoint (or DIGDAG_ENDPOINT)")
    if backfill_id is not None and (len(backfill_id) > 100
                                    or not re.fullmatch(r"[A-Za-z0-9_.]+(-[A-Za-z0-9_.]+)*", backfill_id)):
        raise click.UsageError(f"--id {backfill_id!r} must be letters, digits, '_', '.' and single '-' "
                               "(at most 100 characters)")
    attempt_params: dict[str, str] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--param {item!r} must look like KEY=VALUE")
        attempt_params[key.strip()] = value

    def body() -> int:
        import os

        from gen.backfill import owners, parse_moment, plan_backfill
        from gen.backfill_report import Progress, plan_json, plan_lines, summary_lines
        from gen.backfill_run import Runner, workflow_ids
        from gen.pipeline import generate
        from gen.push import Client, auth_headers

        result = generate(build_inputs(ctx, **kw))
        roots, unowned = owners(result.plan, result.manifest, selectors)
        if unowned:
            click.echo(f"warning: {len(unowned)} selected node(s) belong to no workflow: {', '.join(unowned[:5])}",
                       err=True)
        if not roots:
            raise GenError("the selected nodes belong to no workflow; nothing to backfill")
        zones = sorted({w.timezone for w in result.plan.workflows if w.name in roots})
        if timezone is None and len(zones) > 1:
            raise GenError(f"the selected workflows run in {', '.join(zones)}: say which zone --from and --to "
                           "are in with --timezone (or give them offsets)")
        zone = timezone or zones[0]
        plan = plan_backfill(result.plan, roots, parse_moment(start, zone, end=False),
                             parse_moment(stop, zone, end=True), downstream=downstream, selectors=selectors)
        if backfill_id is not None:
            from dataclasses import replace

            plan = replace(plan, id=backfill_id)
        if not execute:
            click.echo(plan_json(plan) if fmt == "json" else "\n".join(plan_lines(plan)))
            return EXIT_OK
        if fmt == "text":
            click.echo("\n".join(plan_lines(plan)), err=True)
        wanted = {w.name for w in plan.workflows}
        project_of = {name: project.name for project in result.tree.projects for name in project.workflows
                      if name in wanted}
        client = Client(endpoint or "", headers=auth_headers(dict(os.environ)), insecure=insecure)
        progress = Progress(plan)
        runner = Runner(client, plan, workflow_ids(client, project_of), params=attempt_params, parallel=parallel,
                        poll_seconds=poll_seconds, report=lambda event: click.echo(progress.line(event), err=True))
        outcome = runner.run()
        if fmt == "json":
            click.echo(plan_json(plan, outcome))
        else:
            click.echo("\n".join(summary_lines(plan, outcome)))
        return EXIT_OK if outcome.ok else EXIT_CHANGES

    run_guarded(body, debug=ctx.obj["debug"])
