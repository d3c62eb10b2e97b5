"""Run a backfill on a Digdag server: start each session once the backfilled sessions it reads succeeded,
at most `parallel` at a time; a failure stops what reads it, the rest goes on.

Every attempt carries the parameter `gen_backfill: <id>`; a session that ran before re-runs as a retry
named after the backfill (`<id>`, then `<id>-2`, ... after a failure). So the server records which
sessions this backfill re-ran: running the same backfill again skips those that succeeded, waits on
those still running and retries the others.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gen.backfill import BackfillPlan, Key
from gen.errors import PushError
from gen.push import Client

WAITING, RUNNING, SUCCEEDED, DONE_BEFORE, FAILED, BLOCKED = (
    "waiting", "running", "succeeded", "done before", "failed", "blocked")
FINAL = frozenset({SUCCEEDED, DONE_BEFORE, FAILED, BLOCKED})
_MAX_CONFLICTS = 20


@dataclass(slots=True)
class SessionRun:
    """Where one session of the backfill stands."""

    workflow: str
    time: datetime
    state: str = WAITING
    attempt: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """One change the terminal reports."""

    run: SessionRun
    message: str


@dataclass(slots=True)
class Outcome:
    """Every session's final state, in the plan's order."""

    runs: list[SessionRun] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for r in self.runs if r.state == state)

    @property
    def ok(self) -> bool:
        return all(r.state in (SUCCEEDED, DONE_BEFORE) for r in self.runs)


def session_text(t: datetime) -> str:
    """A session time as Digdag's API takes it (UTC)."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def workflow_ids(client: Client, project_of: Mapping[str, str]) -> dict[str, str]:
    """The server's workflow id of each workflow, from the latest revision of its project."""
    ids: dict[str, str] = {}
    for project in sorted(set(project_of.values())):
        found = client.call("GET", "/api/projects", query={"name": project}).get("projects", [])
        if not found:
            raise PushError(f"project {project!r} is not on the server; push it first (gen push)",
                            source=client.endpoint)
        listed = client.call("GET", f"/api/projects/{found[0]['id']}/workflows").get("workflows", [])
        names = {str(w["name"]): str(w["id"]) for w in listed}
        for workflow, owner in project_of.items():
            if owner != project:
                continue
            if workflow not in names:
                raise PushError(f"workflow {workflow!r} is not in project {project!r} on the server; push the "
                                "current output first (gen push)", source=client.endpoint)
            ids[workflow] = names[workflow]
    return ids


class Runner:
    """Starts and watches the sessions of one backfill."""

    def __init__(self, client: Client, plan: BackfillPlan, ids: Mapping[str, str], *, params: Mapping[str, str],
                 parallel: int, poll_seconds: float, report: Callable[[Event], None],
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.plan = plan
        self.ids = ids
        self.params = {**params, "gen_backfill": plan.id}
        self.parallel = max(1, parallel)
        self.poll_seconds = poll_seconds
        self.report = report
        self.sleep = sleep
        self.runs = {key: SessionRun(*key) for key in plan.session_keys()}
        self.readers: dict[Key, list[Key]] = {key: [] for key in self.runs}
        for key, inputs in plan.after.items():
            for upstream in inputs:
                self.readers[upstream].append(key)

    def run(self) -> Outcome:
        """Run every session to a final state."""
        pending = dict.fromkeys(self.runs)  # in plan order; a dict, so a session leaves it in O(1)
        while True:
            started = False
            running = sum(1 for r in self.runs.values() if r.state == RUNNING)
            for key in list(pending):
                run = self.runs[key]
                if run.state in FINAL:
                    del pending[key]
                    continue
                inputs = [self.runs[k] for k in self.plan.after.get(key, ())]
                if any(i.state in (FAILED, BLOCKED) for i in inputs):
                    self._block(key)
                    del pending[key]
                    continue
                if running >= self.parallel or not all(i.state in (SUCCEEDED, DONE_BEFORE) for i in inputs):
                    continue
                self._start(run)
                if run.state in (RUNNING, *FINAL):
                    del pending[key]
                    started = True
                running += run.state == RUNNING
            watching = [r for r in self.runs.values() if r.state == RUNNING]
            if not watching and not pending:
                return Outcome(list(self.runs.values()))
            if not started:
                self.sleep(self.poll_seconds)
            for run in watching:
                self._check(run)

    def _start(self, run: SessionRun) -> None:
        """Start the session for this backfill, or take up what an earlier run of it left.

        A session that never ran starts as a plain attempt, as its schedule would start it, so a reader's
        require> finds it. One that ran re-runs as a retry named after the backfill: Digdag keeps one
        attempt per name, and a require> of the session finds its latest attempt."""
        body: dict[str, Any] = {"workflowId": self.ids[run.workflow], "sessionTime": session_text(run.time),
                                "params": self.params}
        for _ in range(_MAX_CONFLICTS):
            status, attempt = self.client.request("PUT", "/api/attempts", body=json.dumps(body).encode(),
                                                  content_type="application/json", accept=frozenset({409}))
            if status != 409:
                name = attempt.get("retryAttemptName") or "a new session"
                self._started(run, attempt, f"started attempt {attempt.get('id')} ({name})")
                return
            attempts = self._attempts_of_session(attempt)
            ours = [a for a in attempts if self._ours(a)]
            done = next((a for a in ours if a.get("done") and a.get("success")), None)
            if done is not None:
                run.state, run.attempt = DONE_BEFORE, str(done.get("id"))
                self.report(Event(run, f"re-ran before by this backfill (attempt {run.attempt}): skipped"))
                return
            active = next((a for a in attempts if not a.get("done")), None)
            if active is not None and self._ours(active):
                self._started(run, active, f"attempt {active.get('id')} of this backfill is running: waiting")
                return
            if active is not None:  # its schedule or a require> runs it; Digdag runs one attempt at a time
                if run.note != "busy":
                    run.note = "busy"
                    self.report(Event(run, f"attempt {active.get('id')} is running; starting after it"))
                return
            taken = {a.get("retryAttemptName") for a in attempts}
            body["retryAttemptName"] = next(name for n in range(1, len(taken) + 2)
                                            for name in (self.plan.id if n == 1 else f"{self.plan.id}-{n}",)
                                            if name not in taken)
        raise PushError(f"{run.workflow} {session_text(run.time)}: the server kept refusing a new attempt",
                        source=self.client.endpoint)

    def _ours(self, attempt: Mapping[str, Any]) -> bool:
        params = attempt.get("params") or {}
        return isinstance(params, dict) and params.get("gen_backfill") == self.plan.id

    def _attempts_of_session(self, attempt: Mapping[str, Any]) -> list[dict[str, Any]]:
        others = self.client.call("GET", f"/api/attempts/{attempt['id']}/retries").get("attempts", [])
        seen = {str(a.get("id")) for a in others}
        return [*others, *([dict(attempt)] if str(attempt.get("id")) not in seen else [])]

    def _started(self, run: SessionRun, attempt: Mapping[str, Any], message: str) -> None:
        run.state, run.attempt, run.note = RUNNING, str(attempt.get("id")), ""
        self.report(Event(run, message))

    def _check(self, run: SessionRun) -> None:
        attempt = self.client.call("GET", f"/api/attempts/{run.attempt}")
        if not attempt.get("done"):
            return
        if attempt.get("success"):
            run.state = SUCCEEDED
            self.report(Event(run, f"attempt {run.attempt} succeeded"))
        else:
            run.state = FAILED
            run.note = f"attempt {run.attempt} failed (digdag log {run.attempt})"
            self.report(Event(run, run.note))

    def _block(self, key: Key) -> None:
        todo = [key]
        while todo:
            run = self.runs[todo.pop()]
            if run.state in FINAL or run.state == RUNNING:
                continue
            failed = next((f"{i[0]} {session_text(i[1])}" for i in self.plan.after.get((run.workflow, run.time), ())
                           if self.runs[i].state in (FAILED, BLOCKED)), "an upstream session")
            run.state, run.note = BLOCKED, f"not run: it reads {failed}, which did not succeed"
            self.report(Event(run, run.note))
            todo.extend(self.readers[(run.workflow, run.time)])
