"""The `gen` command line: builds inputs, runs the pipeline, prints, and decides exit codes.

This module holds the group, the options and helpers every command shares, and the one place that
turns errors into exit codes; the commands live in cli_generate (workflows, push), cli_review (check,
diff, graph, lint) and cli_backfill (backfill).

Exit codes: 0 ok / up to date / no change, 1 --check or `gen diff` found changes, `gen check` found
coverage gaps or a `gen backfill` session failed, 2 bad input or config (or a missing tool), 3 internal error.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
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


def echo_lines(lines: Iterable[str], *, err: bool = False) -> None:
    """Print lines in one write (a large project has thousands of warnings or findings)."""
    text = "\n".join(lines)
    if text:
        click.echo(text, err=err)


def echo_warnings(warnings: Iterable[str]) -> None:
    """Print the plan's warnings to stderr, one `warning:` line each."""
    echo_lines((f"warning: {w}" for w in warnings), err=True)


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


def report_coverage(result: Any, *, quiet: bool) -> bool:
    """Print the coverage check of a generation (to stderr); True when it found gaps."""
    from gen.coverage import check_coverage, coverage_lines

    coverage = check_coverage(result.manifest, result.plan, include_packages=result.config.include_packages)
    if not coverage.ok or not quiet:
        echo_lines(coverage_lines(coverage), err=True)
    if not coverage.ok:
        click.echo(f"error: {len(coverage.gaps)} coverage gap(s): every enabled model, seed and snapshot "
                   "must be built by exactly one workflow", err=True)
    return not coverage.ok


def main() -> None:
    """Console-script entry point."""
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
    sys.exit(code)


# The commands register themselves on the group when imported.
from gen import cli_backfill, cli_generate, cli_review  # noqa: E402, F401
