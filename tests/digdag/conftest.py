"""Fixtures for the tests that run the real Digdag CLI and server (`make test-digdag`).

These tests need a Digdag 0.10.5.1 launcher: .tools/bin/digdag (scripts/install-digdag.sh) or the
path in $DIGDAG. A missing launcher fails the tests; it never skips them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, TOOLS_BIN

pytestmark = pytest.mark.digdag
VENV_BIN = REPO / ".venv" / "bin"


def digdag_path() -> Path:
    """The Digdag launcher, or a test failure saying how to install it."""
    path = Path(os.environ.get("DIGDAG", TOOLS_BIN / "digdag"))
    if not path.exists():
        pytest.fail(f"Digdag is not installed at {path}: run scripts/install-digdag.sh or set DIGDAG")
    return path


def digdag_env(tmp: Path) -> dict[str, str]:
    """A hermetic environment: own config home, UTC JVM, the venv's dbt first on PATH."""
    env = dict(os.environ)
    env.update(DIGDAG_CONFIG_HOME=str(tmp / "digdag-config"), DIGDAG_TZ="UTC",
               PATH=f"{VENV_BIN}{os.pathsep}{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}")
    return env


def digdag(args: list[str], *, cwd: Path, tmp: Path, env: dict[str, str] | None = None,
           timeout: int = 900) -> subprocess.CompletedProcess[str]:
    """Run the Digdag CLI; output is returned for assertions."""
    return subprocess.run([str(digdag_path()), *args], cwd=cwd, env=env or digdag_env(tmp), capture_output=True,
                          text=True, timeout=timeout, check=False)


def run_workflow(project: Path, workflow: str, session: str, tmp: Path, *, params: dict[str, str],
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`digdag run` one workflow for an explicit session, saving nothing between runs."""
    args = ["run", "--no-save", "-o", str(tmp / f"digdag-run-{time.monotonic_ns()}"), "--project", str(project),
            "--session", session]
    for key, value in params.items():
        args += ["-p", f"{key}={value}"]
    return digdag([*args, f"{workflow}.dig"], cwd=project, tmp=tmp, env=env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def digdag_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real `digdag server --memory`, default settings, on a free loopback port for the whole test
    session (tests use projects of their own names); yields its URL."""
    tmp = tmp_path_factory.mktemp("server")
    with start_server(tmp, digdag_env(tmp)) as url:
        yield url


@contextlib.contextmanager
def start_server(tmp: Path, env: dict[str, str], *, extra: tuple[str, ...] = ()) -> Iterator[str]:
    """Start `digdag server --memory` (default settings unless `extra` options say more); stop it on leaving."""
    port = free_port()
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen([str(digdag_path()), "server", "--memory", "--bind", "127.0.0.1", "--port", str(port),
                             "-O", str(tmp / "task-logs"), *extra], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/api/version", timeout=2) as r:
                    if json.loads(r.read()).get("version"):
                        break
            except OSError:
                time.sleep(0.5)
            if proc.poll() is not None:
                pytest.fail(f"digdag server exited: {(tmp / 'server.log').read_text()[-2000:]}")
        else:
            pytest.fail("digdag server did not answer within 120 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def copy_project(src: Path, dst: Path) -> Path:
    """A copy of a generated project, so runs cannot touch the committed one."""
    shutil.copytree(src, dst)
    return dst
