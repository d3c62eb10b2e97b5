"""`gen lint`: find models a Digdag session cannot re-run safely. manifest + plan -> findings -> text/JSON.

Rules (gen/findings.py): GEN101 wall-clock-in-incremental, GEN102 incremental-without-session-time,
GEN103 microbatch-wall-clock-batches, GEN201 window-grain-mismatch, GEN301 finer-upstream-uncovered,
GEN302 reader-starts-before-writer. A model silences rules with `meta.digdag.lint.ignore: [GEN101]`
(ids or names); `--ignore` silences them everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from gen.config import Config
from gen.errors import ConfigError
from gen.findings import ERROR, RULES, WARNING, Finding, rule_id
from gen.ir import Plan
from gen.lint_code import code_findings, window_findings
from gen.lint_schedule import schedule_findings
from gen.manifest import Manifest, NodeCode
from gen.pipeline import Inputs, plan_inputs
from gen.settings import settings_resolver
from gen.words import plural

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


@dataclass(frozen=True, slots=True)
class LintOptions:
    """Project-wide lint settings (from the command line)."""

    expected_runtime_seconds: int = 1800
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LintResult:
    """Findings (sorted by file and line), how many were silenced, how many models were checked, notes."""

    findings: tuple[Finding, ...]
    silenced: int
    models: int
    notes: tuple[str, ...]

    def count(self, severity: str) -> int:
        """How many findings have this severity."""
        return sum(1 for f in self.findings if f.severity == severity)


def parse_duration(text: str, *, where: str) -> int:
    """Seconds of a duration such as 30m, 1h30m, 45s or 1800."""
    value = text.strip().replace(" ", "")
    if value.isdigit():
        return int(value)
    match = _DURATION.match(value)
    if not value or not match:
        raise ConfigError(f"expected a duration such as 30m, 1h30m or 1800 (seconds), got {text!r}",
                          source=where)
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def lint_project(manifest: Manifest, code: Mapping[str, NodeCode], plan: Plan, config: Config, *,
                 options: LintOptions) -> LintResult:
    """Run every rule over the models Digdag runs; drop what meta.digdag.lint.ignore or --ignore silence."""
    packages = {manifest.project_name, *config.include_packages}
    excluded = set(plan.excluded)
    models = sorted((n for n in manifest.nodes.values()
                     if n.resource_type == "model" and n.enabled and n.package in packages
                     and n.unique_id not in excluded and n.materialized != "ephemeral"),
                    key=lambda n: n.unique_id)
    owner = {uid: w for w in plan.workflows for uid in w.node_ids}
    found: list[Finding] = []
    for node in models:
        nc = code.get(node.unique_id)
        if nc is None:
            continue
        found.extend(code_findings(node, nc, code))
        if node.unique_id in owner:
            found.extend(window_findings(node, nc, owner[node.unique_id]))
    found.extend(schedule_findings(manifest, code, plan,
                                   expected_runtime_seconds=options.expected_runtime_seconds))
    notes: list[str] = []
    everywhere = _ids(options.ignore, "--ignore", notes)
    ignores: dict[str, set[str]] = {}
    resolve = settings_resolver(config, root_project=manifest.project_name)
    kept, silenced = [], 0
    for item in found:
        if item.node not in ignores:
            node = manifest.nodes[item.node]
            ignore = resolve(node).lint_ignore
            ignores[item.node] = _ids(ignore, f"{node.origin}: {node.label}: meta.digdag.lint.ignore", notes)
        if item.rule in ignores[item.node] or item.rule in everywhere:
            silenced += 1
        else:
            kept.append(item)
    kept.sort(key=lambda f: (f.file, f.line or 0, f.rule, f.node, f.message))
    return LintResult(findings=tuple(kept), silenced=silenced, models=len(models),
                      notes=tuple(sorted(set(notes))))


def _ids(values: tuple[str, ...], where: str, notes: list[str]) -> set[str]:
    out = set()
    for value in values:
        found = rule_id(value)
        if found is None:
            notes.append(f"{where}: unknown rule {value!r} (known: {', '.join(sorted(RULES))})")
        else:
            out.add(found)
    return out


def lint_inputs(inputs: Inputs, *, options: LintOptions) -> LintResult:
    """Load a project as `gen workflows` does (running dbt parse when asked; the manifest decoded once,
    with its code) and lint it."""
    planned = plan_inputs(inputs, code=True)
    return lint_project(planned.manifest, planned.manifest.code, planned.plan, planned.config, options=options)


def format_text(result: LintResult) -> list[str]:
    """One line per finding (file:line: severity id name: message), then notes and a summary line."""
    lines = []
    for f in result.findings:
        where = f"{f.file}:{f.line}" if f.line is not None else f.file
        lines.append(f"{where}: {f.severity} {f.rule} {f.name}: {f.message}")
    lines += [f"note: {note}" for note in result.notes]
    errors, warnings = result.count(ERROR), result.count(WARNING)
    silenced = f" ({result.silenced} silenced)" if result.silenced else ""
    models = plural(result.models, "model")
    lines.append(f"{plural(errors, 'error')}, {plural(warnings, 'warning')} in {models}{silenced}")
    return lines


def format_json(result: LintResult) -> str:
    """The findings and a summary as one JSON document (sorted keys, stable order)."""
    document = {
        "findings": [{"rule": f.rule, "name": f.name, "severity": f.severity, "node": f.node,
                      "model": f.label, "file": f.file, "line": f.line, "message": f.message}
                     for f in result.findings],
        "notes": list(result.notes),
        "summary": {"errors": result.count(ERROR), "warnings": result.count(WARNING), "models": result.models,
                    "silenced": result.silenced},
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)


