"""How fast is `gen workflows` on large projects, next to a plain JSON parse of the same manifest?

For each size it builds a synthetic manifest (bench/synth.py), then, each in a fresh process:
  * parses the manifest with `orjson.loads` (the reference: the least any tool must do to read it),
  * runs `gen workflows` into an empty folder (process start to exit, every file written),
  * runs it again with nothing changed, and counts the files that second run rewrote.
It records wall time, CPU time and peak memory (ru_maxrss) of each process, interleaving the
repetitions so background load hits all of them alike, and writes the medians to bench/results.md.

    .venv/bin/python bench/run.py [--sizes 1000,10000,50000] [--repeat 5] [--keep]

Manifests are cached in bench/_work/ (rebuilt when synth.py changes); output folders are removed at
the end unless --keep. Every output folder is new: deleting thousands of files right before a timed
run slows file creation on some file systems, which would measure the disk, not gen.
"""

from __future__ import annotations

import argparse
import compileall
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / "_work"
RESULTS = REPO / "bench" / "results.md"
CLEANED = WORK / "last-cleanup"  # when a run last deleted its output folders (epoch seconds)
# ext4 without a journal does not reuse inode numbers freed in the last 5 minutes: creating thousands of
# files meanwhile, next to thousands just deleted, costs several times more kernel time per file.
INODE_REUSE_SECONDS = 300
ORJSON = "import sys, orjson\nwith open(sys.argv[1], 'rb') as f:\n    orjson.loads(f.read())\n"
_SUMMARY = re.compile(r"create (\d+), update (\d+), delete (\d+) file\(s\)|up to date \((\d+) files?\)")


@dataclass(frozen=True)
class Run:
    """One measured process."""

    wall: float
    user: float
    system: float
    peak_kb: int
    stderr: str


@dataclass(frozen=True)
class Row:
    """The medians for one size."""

    models: int
    nodes: int
    manifest_bytes: int
    workflows: int
    orjson: Run
    first: Run
    rerun: Run
    full_rerun: Run
    peak_kb: int
    written: int
    rewritten: int
    probe_us: float  # microseconds per file the last disk probe before the runs took
    gates: dict[str, Run]  # the commands users run in CI, by name
    output: dict[str, int]  # sizes of the generated output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,50000", help="model counts, comma separated")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each measurement (the median is kept)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the output folders in bench/_work/")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write the table")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    # gen is measured byte-compiled, as installing its wheel leaves it: an editable install compiles on
    # first import, or on every run where PYTHONDONTWRITEBYTECODE is set.
    compileall.compile_dir(REPO / "gen", quiet=1)
    gen = _gen_command()
    project = WORK / "project"
    project.mkdir(parents=True, exist_ok=True)
    (project / "gen.yml").write_text(synth.GEN_YML, encoding="utf-8")
    runs_dir = Path(tempfile.mkdtemp(prefix="runs-", dir=WORK))
    load_before = os.getloadavg()
    baseline_kb = _run([*gen, "--version"], cwd=runs_dir).peak_kb  # the interpreter and gen's imports
    rows = []
    try:
        for models in sizes:
            rows.append(_measure(models, args, gen, project, runs_dir))
            _print_row(rows[-1])
    finally:
        if not args.keep:
            shutil.rmtree(runs_dir, ignore_errors=True)
            CLEANED.write_text(f"{time.time():.0f}\n", encoding="utf-8")
    text = _report(rows, load_before, os.getloadavg(), args, baseline_kb)
    args.results.write_text(text + _kept_sections(args.results), encoding="utf-8")
    print(f"\nwrote {args.results.relative_to(REPO) if args.results.is_relative_to(REPO) else args.results}")
    return 0


def _kept_sections(results: Path) -> str:
    """The hand-written ablation sections at the end of the results file (from the first `## Ablation`
    heading on), which a run keeps: they record measurements the benchmark does not repeat."""
    try:
        old = results.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    at = old.find("\n## Ablation")
    return old[at:] if at >= 0 else ""


def _gen_command() -> list[str]:
    script = Path(sys.executable).parent / "gen"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gen"]


def _manifest(models: int, seed: int) -> tuple[Path, dict[str, int]]:
    folder = WORK / "manifests"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"manifest-{models}-seed{seed}-{synth.digest_of_builder()}.json"
    counts_path = path.with_suffix(".counts.json")
    if not path.exists() or not counts_path.exists():
        for stale in folder.glob(f"manifest-{models}-seed{seed}-*"):
            stale.unlink()
        print(f"building a {models}-model manifest ...", flush=True)
        counts_path.write_text(json.dumps(synth.write_manifest(path, models, seed=seed)), encoding="utf-8")
    return path, json.loads(counts_path.read_text(encoding="utf-8"))


_PROBE_FILES = 2000


def _wait_for_quiet_disk(probe_dir: Path, limit: float = 180.0) -> float:
    """Wait (up to `limit` seconds) until creating files is as fast as it gets on this disk.

    Deleting many files (a previous run's output, a test suite's tmp folders) slows creating files for
    minutes afterwards on some file systems (ext4 without a journal skips inode numbers freed in the last
    5 minutes, one by one; online discard), at many times the kernel time per file; that would measure
    the disk's housekeeping, not gen. So this first waits out 5 minutes since the last benchmark deleted
    its output folders.
    Probes by creating 2,000 empty files (a few hundred can look quick while thousands are slow), kept
    until the end, until three probes in a row (5 s apart) are quick; returns the last probe's
    microseconds per file."""
    os.sync()
    try:
        since = time.time() - float(CLEANED.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        since = INODE_REUSE_SECONDS
    if since < INODE_REUSE_SECONDS:
        print(f"waiting {INODE_REUSE_SECONDS - since:.0f} s: the last benchmark deleted its output "
              f"{since:.0f} s ago", flush=True)
        time.sleep(INODE_REUSE_SECONDS - since)
    start = time.monotonic()
    quiet = 0
    while True:
        folder = probe_dir / str(len(list(probe_dir.iterdir())) if probe_dir.exists() else 0)
        folder.mkdir(parents=True)
        began = time.perf_counter()
        for index in range(_PROBE_FILES):
            os.close(os.open(folder / str(index), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        per_file = (time.perf_counter() - began) / _PROBE_FILES * 1e6
        quiet = quiet + 1 if per_file < 120 else 0
        if quiet == 3 or time.monotonic() - start > limit:
            return per_file
        time.sleep(5)


def _measure(models: int, args: argparse.Namespace, gen: list[str], project: Path, runs_dir: Path) -> Row:
    path, counts = _manifest(models, args.seed)
    probe_us = _wait_for_quiet_disk(runs_dir / "probe")
    print(f"{models} models: {counts['bytes'] / 1e6:.0f} MB manifest, {args.repeat} runs each", flush=True)
    orjson_runs, firsts, reruns, full_reruns, written, rewritten = [], [], [], [], [], []
    gates: dict[str, list[Run]] = {}
    for rep in range(args.repeat):
        out = runs_dir / f"out-{models}-{rep}"
        orjson_runs.append(_run([sys.executable, "-c", ORJSON, str(path)], cwd=runs_dir))
        cmd = [*gen, "workflows", "--manifest", str(path), "--project-dir", str(project), "--out", str(out)]
        first = _run(cmd, cwd=runs_dir)
        firsts.append(first)
        written.append(_files_done(first.stderr))
        before = _snapshot(out)
        rerun = _run(cmd, cwd=runs_dir)
        reruns.append(rerun)
        after = _snapshot(out)
        rewritten.append(sum(1 for rel in before.keys() | after.keys() if before.get(rel) != after.get(rel)))
        if _files_done(rerun.stderr) != 0:
            print(f"  warning: the re-run reports changes: {_summary_line(rerun.stderr)}", file=sys.stderr)
        full_reruns.append(_run([*cmd, "--no-cache"], cwd=runs_dir))  # compares every file, no record
        if _files_done(full_reruns[-1].stderr) != 0 or _snapshot(out) != after:
            print("  warning: the re-run without the record changed files", file=sys.stderr)
        for name, run in _gates(gen, path, project, out, runs_dir).items():
            gates.setdefault(name, []).append(run)
    output = _output_sizes(runs_dir / f"out-{models}-0")
    return Row(models=models, nodes=counts["nodes"], manifest_bytes=counts["bytes"], workflows=output["workflows"],
               orjson=_median(orjson_runs), first=_median(firsts), rerun=_median(reruns),
               full_rerun=_median(full_reruns), peak_kb=max(r.peak_kb for r in firsts + reruns + full_reruns),
               written=max(written), rewritten=max(rewritten), probe_us=probe_us,
               gates={name: _median(runs) for name, runs in gates.items()}, output=output)


GATES = ("workflows --check (fresh)", "workflows --check (stale)", "check", "diff", "lint")


def _gates(gen: list[str], path: Path, project: Path, out: Path, cwd: Path) -> dict[str, Run]:
    """The commands users run in CI on every push, against the out/ just written (each a fresh process)."""
    inputs = ["--manifest", str(path), "--project-dir", str(project)]
    runs = {"workflows --check (fresh)": _run([*gen, "workflows", *inputs, "--out", str(out), "--check"], cwd=cwd)}
    victim = min(p for p in out.rglob("*.dig"))
    original = victim.read_bytes()
    victim.write_bytes(original.replace(b"timezone:", b"timezone:  ", 1))  # a hand edit: --check must fail
    runs["workflows --check (stale)"] = _run([*gen, "workflows", *inputs, "--out", str(out), "--check"], cwd=cwd,
                                             expect=(1,))
    victim.write_bytes(original)
    runs["check"] = _run([*gen, "check", *inputs, "-q"], cwd=cwd)
    runs["diff"] = _run([*gen, "diff", *inputs, "--out", str(out)], cwd=cwd)
    runs["lint"] = _run([*gen, "lint", *inputs], cwd=cwd, expect=(0, 1))  # 1: it found errors (the synth has some)
    return runs


def _output_sizes(out: Path) -> dict[str, int]:
    """Bytes of the generated output: in all, per workflow (median, largest) and per Digdag project."""
    digs = sorted(p.stat().st_size for p in out.rglob("*.dig"))
    projects = [p for p in out.iterdir() if p.is_dir() and (p / "shared").is_dir()] or [out]
    per_project = [sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) for p in projects]
    return {"workflows": len(digs), "total": sum(f.stat().st_size for f in out.rglob("*") if f.is_file()),
            "median": statistics.median(digs) if digs else 0, "largest": digs[-1] if digs else 0,
            "projects": len(projects), "largest_project": max(per_project)}


def _run(cmd: list[str], *, cwd: Path, expect: tuple[int, ...] = (0,)) -> Run:
    """Run a fresh process; wall time from fork to exit, its own CPU time and peak RSS (wait4). An exit code
    outside `expect` stops the benchmark."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        # gen's up-to-date records go to a folder of this benchmark, not the user's cache.
        env = {**os.environ, "GEN_CACHE_DIR": str(cwd / "gen-cache")}
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=err, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if proc.returncode not in expect:
        raise SystemExit(f"{' '.join(cmd[:3])} ... exited {proc.returncode}:\n{stderr[-2000:]}")
    return Run(wall=wall, user=usage.ru_utime, system=usage.ru_stime, peak_kb=usage.ru_maxrss, stderr=stderr)


def _median(runs: list[Run]) -> Run:
    ordered = sorted(runs, key=lambda r: r.wall)
    middle = ordered[len(ordered) // 2]
    return Run(wall=statistics.median(r.wall for r in runs), user=statistics.median(r.user for r in runs),
               system=statistics.median(r.system for r in runs), peak_kb=max(r.peak_kb for r in runs),
               stderr=middle.stderr)


def _snapshot(out: Path) -> dict[str, tuple[int, int, int]]:
    """(inode, mtime, size) of every file: a rewrite (temp file + rename) changes the inode."""
    found = {}
    for folder, _, files in os.walk(out):
        for name in files:
            st = os.stat(os.path.join(folder, name))
            found[os.path.relpath(os.path.join(folder, name), out)] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return found


def _summary_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if _SUMMARY.search(line)]
    return lines[-1] if lines else "(no summary)"


def _files_done(stderr: str) -> int:
    """Files gen says it created, updated or deleted (0 when up to date)."""
    match = _SUMMARY.search(_summary_line(stderr))
    if not match:
        raise SystemExit(f"no summary line in gen's output:\n{stderr[-2000:]}")
    return 0 if match.group(4) else sum(int(match.group(i)) for i in (1, 2, 3))


def _print_row(row: Row) -> None:
    print(f"  orjson {row.orjson.wall:.2f}s | gen {row.first.wall:.2f}s (ratio {row.first.wall / row.orjson.wall:.2f}; "
          f"CPU {row.first.user:.2f} user + {row.first.system:.2f} sys), peak {row.peak_kb / 1024:.0f} MB "
          f"({row.peak_kb * 1024 / row.manifest_bytes:.2f}x manifest) | re-run {row.rerun.wall:.2f}s, "
          f"{row.rewritten} file(s) rewritten | re-run without the record {row.full_rerun.wall:.2f}s", flush=True)


def _machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        info = Path("/proc/cpuinfo").read_text()
        cpu = next(line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = "?"
    try:
        kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    return [f"- CPU: {cpu}, {os.cpu_count()} cores",
            f"- memory: {memory}",
            f"- OS: {platform.system()} {platform.release()}",
            f"- Python {platform.python_version()} ({sys.executable})"]


def _report(rows: list[Row], load_before: tuple[float, ...], load_after: tuple[float, ...],
            args: argparse.Namespace, baseline_kb: int) -> str:
    lines = [
        "# gen workflows at scale",
        "",
        "Written by `make bench` (`.venv/bin/python bench/run.py"
        + (f" --sizes {args.sizes}" if args.sizes != "1000,10000,50000" else "")
        + (f" --repeat {args.repeat}" if args.repeat != 5 else "") + "`); "
        f"median of {args.repeat} runs, each a fresh process. Synthetic manifests from bench/synth.py "
        f"(seed {args.seed}): layered staging / intermediate / marts models with 1-6 parents, "
        "generic tests, ephemeral and incremental models, a few hourly and daily schedules and groups, "
        "macros of dbt and packages, columns with descriptions, raw and compiled code.",
        "",
        "Machine:",
        "",
        *_machine(),
        f"- load average before / after: {load_before[0]:.2f} / {load_after[0]:.2f}",
        f"- measured {time.strftime('%Y-%m-%d')}",
        "",
        "| models | nodes | manifest | workflows | orjson.loads | gen workflows | ratio | gen CPU user + sys | "
        "peak memory | memory / manifest | re-run | re-run / orjson | re-run CPU user + sys | files written | "
        "files re-written | re-run without the record | its ratio to orjson |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.models:,} | {r.nodes:,} | {r.manifest_bytes / 1e6:.0f} MB | {r.workflows:,} | "
            f"{r.orjson.wall:.2f} s | {r.first.wall:.2f} s | {r.first.wall / r.orjson.wall:.2f} | "
            f"{r.first.user:.2f} + {r.first.system:.2f} s | {r.peak_kb / 1024:.0f} MB | "
            f"{r.peak_kb * 1024 / r.manifest_bytes:.2f}x | {r.rerun.wall:.2f} s | "
            f"{r.rerun.wall / r.orjson.wall:.2f} | {r.rerun.user:.2f} + {r.rerun.system:.2f} s | {r.written:,} | "
            f"{r.rewritten} | {r.full_rerun.wall:.2f} s | {r.full_rerun.wall / r.orjson.wall:.2f} |")
    lines += ["", "Columns: *orjson.loads* is `python -c` reading the manifest and parsing it with "
              "`orjson.loads` (process start to exit); *gen workflows* is the whole run into an empty "
              "folder, every file written and synced (wall time; CPU split into user, gen's own work, "
              "and sys, mostly the kernel creating and syncing files); *re-run* is the same command again with "
              "nothing changed, answered from gen's up-to-date record (inputs hashed, every file in out/ "
              "read back and compared with the record); *files re-written* counts files whose inode or "
              "mtime the re-run changed; *re-run without the record* is a third run with `--no-cache`: "
              "the manifest decoded, the plan made, every file rendered and compared with out/; peak "
              "memory is the largest ru_maxrss of the gen runs.", "",
              "Disk before each size's runs (creating an empty file, the last of three quick probes of "
              f"{_PROBE_FILES:,} files): " + ", ".join(f"{r.probe_us:.0f} us at {r.models:,}" for r in rows)
              + ". Creating files costs several times more for minutes after many were deleted nearby on "
              "some file systems (ext4 without a journal does not reuse inode numbers freed in the last 5 "
              "minutes); figures taken then measure the disk, not gen.", ""]
    lines += ["## The commands users run in CI", "",
              "Each against the `out/` the first run wrote (median wall time; in parentheses its ratio to the "
              "orjson parse). *stale*: one `.dig` file edited by hand, so `--check` finds it and exits 1.", "",
              "| models | " + " | ".join(f"gen {g}" for g in GATES) + " |",
              "|---:|" + "---:|" * len(GATES)]
    for r in rows:
        lines.append(f"| {r.models:,} | " + " | ".join(
            f"{r.gates[g].wall:.2f} s ({r.gates[g].wall / r.orjson.wall:.2f})" for g in GATES) + " |")
    lines += ["", "## The generated output", "",
              "What a reviewer reads and Digdag loads: every file of `out/`; the workflows' `.dig` files; the "
              "Digdag projects the output is split into to stay under the server's 2 MiB archive limit.", "",
              "| models | workflows | out/ in all | median .dig | largest .dig | bytes per workflow | projects | "
              "largest project |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        o = r.output
        lines.append(f"| {r.models:,} | {o['workflows']:,} | {o['total'] / 1e6:.1f} MB | {o['median']:,} B | "
                     f"{o['largest']:,} B | {o['total'] // max(1, o['workflows']):,} B | {o['projects']} | "
                     f"{o['largest_project'] / 1024 / 1024:.2f} MiB |")
    lines += [""]
    lines += _targets(rows, baseline_kb)
    return "\n".join(lines) + "\n"


def _targets(rows: list[Row], baseline_kb: int) -> list[str]:
    out = ["## Targets", ""]
    by_size = {r.models: r for r in rows}
    ten = by_size.get(10_000)
    if ten is not None:
        ratio = ten.first.wall / ten.orjson.wall
        out.append(f"- 10,000 models, whole run no slower than the orjson parse: {ratio:.2f} "
                   f"({'met' if ratio <= 1.0 else 'NOT met'})")
        half = ten.rerun.wall / ten.orjson.wall
        out.append(f"- re-run with nothing changed writes no file: {ten.rewritten} rewritten "
                   f"({'met' if ten.rewritten == 0 else 'NOT met'}); takes at most half the orjson parse: "
                   f"{half:.2f} ({'met' if half <= 0.5 else 'NOT met'}), at most half of gen's first run: "
                   f"{ten.rerun.wall / ten.first.wall:.2f} "
                   f"({'met' if ten.rerun.wall <= ten.first.wall / 2 else 'NOT met'})")
        for gate in GATES:
            ratio = ten.gates[gate].wall / ten.orjson.wall
            out.append(f"- 10,000 models, gen {gate} at most 1.5x the orjson parse: {ratio:.2f} "
                       f"({'met' if ratio <= 1.5 else 'NOT met'})")
    for r in rows:
        fits = r.output["largest_project"] <= 2 * 1024 * 1024
        out.append(f"- {r.models:,} models: every Digdag project at most 2 MiB: largest "
                   f"{r.output['largest_project']:,} bytes in {r.output['projects']} project(s) "
                   f"({'met' if fits else 'NOT met'})")
    if len(rows) >= 2:
        per = [r.first.wall / r.models * 1000 for r in rows]
        slopes = [(b.first.wall - a.first.wall) / (b.models - a.models) * 1000 for a, b in itertools.pairwise(rows)]
        linear = all(later <= earlier * 1.25 for earlier, later in itertools.pairwise(per))
        out.append("- linear growth: seconds per 1,000 models "
                   + ", ".join(f"{p:.3f} at {r.models:,}" for p, r in zip(per, rows, strict=True))
                   + f" ({'met' if linear else 'NOT met'}: no size costs more than 1.25x per model what the size before it costs); "
                   + "marginal seconds per 1,000 more models "
                   + ", ".join(f"{s:.3f} ({a.models:,}-{b.models:,})"
                               for s, (a, b) in zip(slopes, itertools.pairwise(rows), strict=True)))
    worst = max(rows, key=lambda r: r.peak_kb * 1024 / r.manifest_bytes)
    over = [r for r in rows if r.peak_kb * 1024 >= 3 * r.manifest_bytes]
    verdict = "met" if not over else "NOT met at " + ", ".join(f"{r.models:,}" for r in over)
    above = ", ".join(f"{(r.peak_kb - baseline_kb) * 1024 / r.manifest_bytes:.2f}x at {r.models:,}" for r in rows)
    out.append(f"- peak memory under 3x the manifest: highest {worst.peak_kb * 1024 / worst.manifest_bytes:.2f}x "
               f"at {worst.models:,} models ({verdict}); `gen --version` alone peaks at {baseline_kb / 1024:.0f} MB "
               f"(Python and gen's imports); what a run adds to that: {above}; the orjson.loads reference "
               "itself peaks at " + ", ".join(f"{r.orjson.peak_kb * 1024 / r.manifest_bytes:.2f}x at {r.models:,}"
                                                for r in rows))
    return out


if __name__ == "__main__":
    sys.exit(main())
