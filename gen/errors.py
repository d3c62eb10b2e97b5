"""One exception tree for every failure gen reports; the CLI maps each class to an exit code."""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """Show control characters (newlines above all) as escapes, so every message is one line."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def yaml_problem(e: Exception) -> str:
    """A PyYAML error in one line: `invalid YAML at line N: <problem>`."""
    mark = getattr(e, "problem_mark", None)
    at = f" at line {mark.line + 1}" if mark else ""
    return f"invalid YAML{at}: {getattr(e, 'problem', None) or e}"


class GenError(Exception):
    """Base of every error gen reports to the user (exit code 2 unless a subclass says otherwise)."""

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(one_line(f"{source}: {message}" if source else message))

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt as it was (same class, text and source) when it crosses a process boundary.
        return _restore, (type(self), str(self), self.source)


def _restore(cls: type[GenError], text: str, source: str | None) -> GenError:
    error = cls.__new__(cls)
    Exception.__init__(error, text)
    error.source = source
    return error


class ConfigError(GenError):
    """gen.yml, pyproject [tool.gen] or a CLI flag is invalid."""


class ManifestError(GenError):
    """manifest.json cannot be read or does not have the shape of a dbt manifest."""


class MetaError(GenError):
    """A node's meta.digdag block is invalid (names the node and its file)."""


class ScheduleError(GenError):
    """A schedule value is not a valid Digdag schedule, or nodes in one workflow disagree."""


class CycleError(GenError):
    """Workflows (or nodes) depend on each other in a cycle."""


class PlanError(GenError):
    """The workflows cannot be planned as configured (name clashes, bad grouping)."""


class TemplateError(GenError):
    """A template is missing or failed to render."""


class OutputError(GenError):
    """out/ cannot be written safely (foreign files, symlinks, locks, I/O errors)."""


class DbtError(GenError):
    """dbt parse (run through dbt-core) failed."""


class PushError(GenError):
    """Pushing to the Digdag server failed."""


class ProjectReadError(GenError):
    """A generated Digdag project (out/) cannot be read back (names the .dig file and the cause)."""


class ToolError(GenError):
    """An external program gen was asked to use (Graphviz `dot`) is missing or failed."""
