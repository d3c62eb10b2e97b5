"""Fixtures of the tests against the real control plane: one cluster for the whole test session
(tests/kube/cluster.py), a namespace of its own for every test, and a generated Digdag project whose
run-dbt.sh talks to that cluster."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_tool
from tests.kube.cluster import Cluster, ClusterError, start_cluster
from tests.task_project import USER_VALUES, lay_out, task_env, write_values

# The one container log kwok serves (tests/kube/kwok-stages.yaml: ClusterLogs).
CANNED = "dbt (simulated by kwok): canned log line"
UNPULLABLE_REPOSITORY = "registry.invalid/gen-test/dbt"  # kwok-stages.yaml: pod-image-pull-backoff


@pytest.fixture(scope="session")
def kubectl_bin() -> Path:
    """The real kubectl (scripts/install-kube-tools.sh); missing fails the tests."""
    return require_tool("kubectl")


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    """The real helm (scripts/install-kube-tools.sh); missing fails the tests."""
    return require_tool("helm")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory, kubectl_bin: Path) -> Iterator[Cluster]:
    """One control plane for the whole session. Missing binaries fail (never skip): `make setup-kube`."""
    try:
        plane = start_cluster(tmp_path_factory.mktemp("kube"), kubectl=kubectl_bin)
    except ClusterError as e:
        pytest.fail(f"the test control plane could not start: {e}")
    try:
        yield plane
    finally:
        plane.stop()


SPARE = "apiserver-spare"


@pytest.fixture(scope="session")
def spare_apiserver(cluster: Cluster) -> Path:
    """A second kube-apiserver on the same etcd that only run-dbt.sh talks to (its kubeconfig): the
    outage tests stop, freeze and restart it while the controllers and kwok keep using the first."""
    try:
        return cluster.start_apiserver(SPARE)
    except ClusterError as e:
        pytest.fail(f"the spare API server could not start: {e}")


_NAMESPACES = itertools.count(1)


def make_namespace(cluster: Cluster, labels: dict[str, str] | None = None) -> str:
    """A fresh namespace whose default ServiceAccount exists (pods are refused until it does)."""
    name = f"t{next(_NAMESPACES)}-{os.getpid()}"
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    cluster.run_kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "Namespace",
                                                                "metadata": meta}))
    deadline = time.monotonic() + 60
    while cluster.run_kubectl("-n", name, "get", "serviceaccount", "default", "--ignore-not-found",
                              "-o", "name").stdout.strip() == "":
        if time.monotonic() > deadline:
            pytest.fail(f"namespace {name}: the default ServiceAccount never appeared")
        time.sleep(0.1)
    return name


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A namespace of this test's own, deleted afterwards (without waiting)."""
    name = make_namespace(cluster)
    yield name
    cluster.run_kubectl("delete", "namespace", name, "--wait=false", check=False)


class Run:
    """run-dbt.sh running in the background; its output is collected line by line as it comes."""

    def __init__(self, proc: subprocess.Popen[str]):
        self.proc = proc
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        """Wait until text shows in the output (fail if the script ends or the time is up first)."""
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.proc.poll() is not None:
                self._reader.join(timeout=10)
                if text in self.output:
                    return
                pytest.fail(f"run-dbt.sh ended ({self.proc.returncode}) before printing {text!r}:\n{self.output}")
            if time.monotonic() > deadline:
                pytest.fail(f"run-dbt.sh did not print {text!r} within {timeout}s:\n{self.output}")
            time.sleep(0.05)

    def finish(self, timeout: float = 120) -> tuple[int, str]:
        """Exit code and whole output once the script ends."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"run-dbt.sh did not end within {timeout}s:\n{self.output}")
        self._reader.join(timeout=10)
        return rc, self.output


class KubeProject:
    """A generated Digdag project (scripts/, charts/dbt-job, dbt-job-values.yaml) whose tasks run
    against the test cluster in namespace ns, as Digdag's sh> runs them (/bin/sh -c)."""

    def __init__(self, root: Path, cluster: Cluster, ns: str, helm: Path, kubectl: Path):
        self.cluster = cluster
        self.ns = ns
        self.dir = root / "project"
        lay_out(self.dir)
        tools = os.pathsep.join(dict.fromkeys([str(helm.parent), str(kubectl.parent)]))
        path = os.pathsep.join([tools, str(Path(sys.executable).parent), "/usr/bin", "/bin"])
        self.env = {
            **task_env(path=path, home=root, kubeconfig=cluster.kubeconfig, namespace=ns),
            "GEN_DBT_ARGS": '["--indirect-selection", "buildable"]',
            "GEN_TIMEOUT_SECONDS": "300",
            "GEN_POLL_SECONDS": "0.2",
            "GEN_STUCK_GRACE_SECONDS": "0",
            "GEN_RETRY_BACKOFF_SECONDS": "0.2",
            "GEN_LOG_DRAIN_SECONDS": "0.3",
        }

    def write_values(self, **over: Any) -> None:
        """The user's values file: USER_VALUES with top-level keys replaced."""
        write_values(self.dir, {**USER_VALUES, **over})

    def run(self, **env: str) -> subprocess.CompletedProcess[str]:
        """Run the task to its end."""
        return subprocess.run(["/bin/sh", "-c", "bash scripts/run-dbt.sh"], cwd=self.dir, env={**self.env, **env},
                              capture_output=True, text=True, encoding="utf-8", timeout=180, check=False)

    def start(self, **env: str) -> Run:
        """Start the task in the background (stdout and stderr together), in a process group of its own."""
        proc = subprocess.Popen(["bash", "scripts/run-dbt.sh"], cwd=self.dir, env={**self.env, **env},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                                start_new_session=True)
        return Run(proc)

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Admin kubectl in this project's namespace."""
        return self.cluster.run_kubectl("-n", self.ns, *args, check=check)

    def jobs(self) -> list[dict[str, Any]]:
        """Every Job in the namespace, oldest first."""
        items: list[dict[str, Any]] = json.loads(self.kubectl("get", "jobs", "-o", "json").stdout)["items"]
        return sorted(items, key=lambda j: (j["metadata"]["creationTimestamp"], j["metadata"]["name"]))

    def job_gone(self, name: str, timeout: float = 60) -> bool:
        """True once Job name is deleted or being deleted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.kubectl("get", "job", name, "--ignore-not-found", "-o", "json").stdout.strip()
            if not got or json.loads(got)["metadata"].get("deletionTimestamp"):
                return True
            time.sleep(0.1)
        return False

    def pods_of(self, job: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(
            self.kubectl("get", "pods", "-l", f"job-name={job}", "-o", "json").stdout)["items"]
        return items


@pytest.fixture
def project(tmp_path: Path, cluster: Cluster, namespace: str, helm_bin: Path, kubectl_bin: Path) -> KubeProject:
    """A generated project running its tasks in this test's namespace."""
    return KubeProject(tmp_path, cluster, namespace, helm_bin, kubectl_bin)


def out(proc: subprocess.CompletedProcess[str]) -> str:
    """stdout and stderr of a finished run, for assertion messages."""
    return proc.stdout + proc.stderr
