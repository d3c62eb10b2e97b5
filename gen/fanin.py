"""Keep every Digdag attempt under the server's task limit. Pure.

Digdag fails an attempt that would create more than `executor.task_max_run` tasks (1,000 by default).
A daily reader of N hourly upstreams requires 24 sessions of each through `loop>`: about 26·N tasks, so 40
hourly parents already pass the limit. When a workflow would, each of its multi-session requires moves
into a completion workflow of its own: an unscheduled workflow that runs for the reader's session time
and requires that upstream's sessions, one per (upstream, reader timing), shared by every reader with
that timing. The reader then requires each completion workflow once, for its own session.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from gen.errors import PlanError
from gen.ir import RequireTask, Workflow
from gen.naming import job_slug
from gen.requires import SAME, Need, Required, Timing, describe


def attempt_tasks(workflow: Workflow) -> int:
    """The most tasks one attempt of the workflow creates: itself, +require and +dbt_build, one per plain
    require>, and a loop> with its generated group and one task per session."""
    return 3 + sum(r.required.most + 2 if r.required.loops else 1 for r in workflow.requires)


def bound_fan_in(workflows: tuple[Workflow, ...], timings: Mapping[str, Timing], *,
                 limit: int) -> tuple[Workflow, ...]:
    """The workflows, with completion workflows added where a reader's attempt would pass `limit` tasks."""
    completions: dict[tuple[str, Timing], Workflow] = {}
    names = {w.name for w in workflows}
    out = []
    for workflow in workflows:
        if attempt_tasks(workflow) <= limit:
            out.append(workflow)
            continue
        requires = []
        for req in workflow.requires:
            if not req.required.loops:
                requires.append(req)
                continue
            key = (req.upstream, timings[workflow.name])
            if key not in completions:
                completions[key] = _completion(workflow, req, timings[workflow.name], names)
                names.add(completions[key].name)
            helper = completions[key]
            requires.append(RequireTask(task=helper.name, upstream=helper.name,
                                        required=Required(SAME, _own_session(req.required.need), 1),
                                        why=f"{req.why}, completed by {helper.name}"))
        reader = msgspec.structs.replace(workflow, requires=tuple(requires),
                          upstreams=tuple(sorted({*workflow.upstreams, *(r.upstream for r in requires)})))
        if attempt_tasks(reader) > limit:
            raise PlanError(f"workflow {workflow.name!r} requires {len(workflow.requires)} upstream workflows: one "
                            f"attempt would create {attempt_tasks(reader)} tasks, more than max_attempt_tasks "
                            f"({limit}, Digdag's executor.task_max_run); group its upstreams (meta.digdag.workflow)")
        out.append(reader)
    for helper in completions.values():
        if attempt_tasks(helper) > limit:
            (req,) = helper.requires
            raise PlanError(f"one session of a reader timed like {helper.name!r} requires {req.required.most} "
                            f"sessions of {req.upstream!r}, more than max_attempt_tasks ({limit}, Digdag's "
                            "executor.task_max_run) allows in one attempt; give the reader a finer schedule or the "
                            "upstream a coarser one")
    return tuple(sorted([*out, *completions.values()], key=lambda w: w.name))


def _completion(reader: Workflow, req: RequireTask, timing: Timing, taken: set[str]) -> Workflow:
    tag = re.sub(r"[^a-z0-9]+", "_", f"{describe(timing)} {timing.window}".lower()).strip("_")
    name = f"{req.upstream}__{tag}"[:180]
    suffix = 1
    while name in taken:
        suffix += 1
        name = f"{req.upstream}__{tag}_{suffix}"[:180]
    return Workflow(name=name, slug=job_slug(name), node_ids=(), labels=(), selects=(), schedule=None,
                    timezone=reader.timezone, window=reader.window, requires=(req,), upstreams=(req.upstream,),
                    k8s=reader.k8s, folder=reader.folder)


def _own_session(need: Need) -> Need:
    return Need(first=need.first[:1], step=(1, "minutes"), count=1, bound=None, now_offset_seconds=0)
