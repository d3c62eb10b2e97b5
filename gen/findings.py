"""The lint rules gen knows (id, name, severity) and the Finding record each firing produces. A leaf."""

from __future__ import annotations

from dataclasses import dataclass

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True, slots=True)
class Rule:
    """A lint rule: id, name, severity and what it checks."""

    id: str
    name: str
    severity: str
    summary: str


RULES = {r.id: r for r in (
    Rule("GEN101", "wall-clock-in-incremental", ERROR,
         "an incremental model reads the wall clock, so a re-run or backfill of a session loads other rows"),
    Rule("GEN102", "incremental-without-session-time", ERROR,
         "an incremental model never reads the Digdag session time, so every session loads the same window"),
    Rule("GEN103", "microbatch-wall-clock-batches", WARNING,
         "dbt picks a microbatch model's batches from the run's wall clock unless --event-time-start/-end "
         "are passed"),
    Rule("GEN201", "window-grain-mismatch", WARNING,
         "the model's session window (grain, window or timezone) differs from its workflow's schedule"),
    Rule("GEN301", "finer-upstream-uncovered", WARNING,
         "an upstream on a finer or unaligned schedule has no require> that covers the whole session"),
    Rule("GEN302", "reader-starts-before-writer", WARNING,
         "a workflow is scheduled to start before the upstream session it requires usually finishes"),
)}
_BY_NAME = {r.name: r.id for r in RULES.values()}


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule firing on one model, with the file and line that show it where known."""

    rule: str
    severity: str
    node: str
    label: str
    file: str
    line: int | None
    message: str

    @property
    def name(self) -> str:
        """The rule's name, e.g. wall-clock-in-incremental."""
        return RULES[self.rule].name


def finding(rule: str, *, node: str, label: str, file: str, line: int | None, message: str) -> Finding:
    """A Finding with the rule's severity."""
    return Finding(rule=rule, severity=RULES[rule].severity, node=node, label=label, file=file, line=line,
                   message=message)


def rule_id(text: str) -> str | None:
    """A rule id from an id or a name (case-insensitive), None when unknown."""
    key = text.strip()
    if key.upper() in RULES:
        return key.upper()
    return _BY_NAME.get(key.lower())
