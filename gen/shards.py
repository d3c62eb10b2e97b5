"""Spread one piece of work over forked processes: shard k of n runs in its own process, shard 0 here.

Rendering and writing thousands of files is Python work plus file-system calls, and one Python process
uses one core. Forking after the plan is made shares the plan (copy-on-write) with no pickling; each
shard sends back only its small result through a pipe. Linux and other fork-safe systems only: where
fork is missing or unsafe (macOS, Windows), or for little work, everything runs here.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

MIN_ITEMS_PER_SHARD = 1500  # below this a fork costs more than it saves


def shard_count(items: int, jobs: int = 0) -> int:
    """How many processes to use for `items` pieces of work: `jobs` if set (at most one per item), else
    one per usable core (at most 4) and never more than the work is worth."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return 1
    if jobs > 0:
        return max(1, min(jobs, items))
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(4, cores, items // MIN_ITEMS_PER_SHARD))


def run_shards(work: Callable[[int, int], T], shards: int) -> list[T]:
    """[work(0, n), work(1, n), ...] with work(k, n) for k >= 1 run in forked children.

    The first exception of the lowest shard is raised, after every child has exited; a child that dies
    without a result (killed, out of memory) raises an OSError naming its exit status."""
    if shards <= 1:
        return [work(0, 1)]
    children: list[tuple[int, int]] = []
    try:
        for k in range(1, shards):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: never returns
                os.close(read_end)
                _child(work, k, shards, write_end)
            os.close(write_end)
            children.append((pid, read_end))
        outcomes: list[tuple[str, object]] = [_outcome(work, 0, shards)]
        for pid, read_end in children:
            outcomes.append(_collect(pid, read_end))
        children.clear()
    finally:
        for pid, read_end in children:  # only when this process failed or was interrupted
            os.close(read_end)
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
    results: list[T] = []
    for status, value in outcomes:
        if status != "ok":
            assert isinstance(value, BaseException)
            raise value
        results.append(value)  # type: ignore[arg-type]
    return results


def _outcome(work: Callable[[int, int], T], k: int, shards: int) -> tuple[str, object]:
    try:
        return "ok", work(k, shards)
    except Exception as e:  # carried to the caller, which raises it once every shard is done
        return "error", e


def _child(work: Callable[[int, int], T], k: int, shards: int, write_end: int) -> None:
    code = 0
    try:
        outcome = _outcome(work, k, shards)
        try:
            data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # an exception that cannot be pickled: keep its text
            data = pickle.dumps(("error", RuntimeError(f"{type(outcome[1]).__name__}: {outcome[1]} ({e})")))
        view = memoryview(data)
        while view:
            view = view[os.write(write_end, view):]
    except BaseException:
        code = 1
    finally:
        os._exit(code)  # no atexit handlers, no flushing of the parent's buffered output


def _collect(pid: int, read_end: int) -> tuple[str, object]:
    chunks = []
    with os.fdopen(read_end, "rb") as pipe:
        while chunk := pipe.read(1 << 20):
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    if not data:
        code = os.waitstatus_to_exitcode(status)
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        return "error", OSError(f"a worker process {how} before finishing its share of the files")
    outcome: tuple[str, object] = pickle.loads(data)
    return outcome
