"""A real Kubernetes control plane on 127.0.0.1 for the tests of run-dbt.sh and the chart.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the real programs (built by
scripts/install-kube-cluster.sh); KWOK plays the one node and the kubelet: it moves pods through the
lifecycle its stage configs (kwok-stages.yaml) describe and answers `kubectl logs` from a canned file.
Certificates and service-account keys are made with openssl at start; every port is a free one chosen
then, bound on 127.0.0.1 only. Run it by hand with `python -m tests.kube.cluster` (Ctrl-C stops it).
"""

from __future__ import annotations

import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STAGES = Path(__file__).resolve().parent / "kwok-stages.yaml"
NODE = "kwok-node-0"
# The canned log kwok serves for every container: CRI log lines, so --since-time works on them.
CANNED_LOG = "2024-01-01T00:00:00.000000000Z stdout F dbt (simulated by kwok): canned log line\n"


class ClusterError(RuntimeError):
    """The control plane could not be built, started or reached."""


def kube_bin_dir() -> Path:
    """The folder holding the control plane's binaries; fails (never builds) when they are missing."""
    done = subprocess.run(["bash", str(REPO / "scripts" / "install-kube-cluster.sh"), "--check"],
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise ClusterError(done.stderr.strip() or "scripts/install-kube-cluster.sh --check failed")
    return Path(done.stdout.strip())


def free_port() -> int:
    """A TCP port nothing listens on now (127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise ClusterError(f"openssl {' '.join(args[:2])} failed: {done.stderr.strip()}")


def make_pki(pki: Path) -> None:
    """A CA, a serving certificate for 127.0.0.1, an admin client certificate and service-account keys."""
    pki.mkdir(parents=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3", "-subj", "/CN=gen-test-ca",
             cwd=pki)
    for name, subject, ext in (
        ("serving", "/CN=kube-apiserver",
         "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc\n"
         "extendedKeyUsage=serverAuth,clientAuth\n"),
        ("admin", "/O=system:masters/CN=gen-test-admin", "extendedKeyUsage=clientAuth\n"),
    ):
        _openssl("req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=pki)
        (pki / f"{name}.ext").write_text(ext, encoding="utf-8")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "3", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=pki)
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "sa.key", cwd=pki)
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def kubeconfig_text(server: str, ca: Path, *, user: str, cert: Path | None = None, key: Path | None = None,
                    token: str | None = None) -> str:
    """A kubeconfig with one cluster, user and context (named gen-test)."""
    creds = f"    token: {token}\n" if token else f"    client-certificate: {cert}\n    client-key: {key}\n"
    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: gen-test\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\n"
        f"users:\n- name: {user}\n  user:\n{creds}"
        f"contexts:\n- name: gen-test\n  context:\n    cluster: gen-test\n    user: {user}\n"
        "current-context: gen-test\n"
    )


@dataclass
class Cluster:
    """One control plane: start(), stop(), and stop_apiserver()/start_apiserver() for outage tests."""

    root: Path
    bin_dir: Path
    kubectl: Path
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (system:masters)."""
        return self.root / "admin.kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def log_file(self) -> Path:
        """The canned container log kwok serves (CRI format); tests may append lines while pods run."""
        return self.root / "pod.log"

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, *, timeout: float = 120) -> None:
        """Start every component and wait until the API answers and the node is Ready."""
        self.root.mkdir(parents=True, exist_ok=True)
        make_pki(self.pki)
        for name in ("etcd", "etcd_peer", "apiserver", "kwok"):
            self.ports[name] = free_port()
        self.kubeconfig.write_text(kubeconfig_text(self.server, self.pki / "ca.crt", user="admin",
                                                   cert=self.pki / "admin.crt", key=self.pki / "admin.key"),
                                   encoding="utf-8")
        self.log_file.write_text(CANNED_LOG, encoding="utf-8")
        (self.root / "kwok.yaml").write_text(
            STAGES.read_text(encoding="utf-8").replace("@LOGS_FILE@", str(self.log_file)), encoding="utf-8")
        deadline = time.monotonic() + timeout
        self._spawn("etcd", self._etcd_args())
        self._wait_http(f"http://127.0.0.1:{self.ports['etcd']}/health", deadline, "etcd")
        self.start_apiserver(deadline=deadline)
        self._spawn("controller-manager", self._controller_manager_args())
        self._spawn("scheduler", self._scheduler_args())
        self._spawn("kwok", self._kwok_args())
        self.run_kubectl("apply", "-f", "-", stdin=self._node_manifest())
        self.run_kubectl("wait", "--for=condition=Ready", f"node/{NODE}", f"--timeout={max(1, int(deadline - time.monotonic()))}s")

    def stop(self) -> None:
        """Stop every component (kwok first, etcd last)."""
        for name in ("kwok", "scheduler", "controller-manager", *sorted(n for n in self.procs if "apiserver" in n),
                     "etcd"):
            self._terminate(name)

    def start_apiserver(self, name: str = "apiserver", *, deadline: float | None = None) -> Path:
        """Start a kube-apiserver (again, with the same port and flags) and wait until it is ready;
        returns an admin kubeconfig for it. Another name than "apiserver" makes a second API server
        on the same etcd, which only the tests talk to: stopping it is an outage the script sees while
        the controllers and kwok (on the first one) carry on undisturbed."""
        if name not in self.ports:
            self.ports[name] = free_port()
        server = f"https://127.0.0.1:{self.ports[name]}"
        self._spawn(name, self._apiserver_args(self.ports[name]))
        self._wait_http(f"{server}/readyz", deadline or time.monotonic() + 60, name)
        config = self.root / f"{name}.kubeconfig"
        config.write_text(kubeconfig_text(server, self.pki / "ca.crt", user="admin", cert=self.pki / "admin.crt",
                                          key=self.pki / "admin.key"), encoding="utf-8")
        return config

    def stop_apiserver(self, name: str = "apiserver") -> None:
        """Stop one kube-apiserver; everything else keeps running."""
        self._terminate(name)

    # --- helpers ---------------------------------------------------------------------------

    def run_kubectl(self, *args: str, stdin: str | None = None, kubeconfig: Path | None = None,
                    check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """kubectl against this cluster (admin unless kubeconfig says otherwise)."""
        done = subprocess.run([str(self.kubectl), f"--kubeconfig={kubeconfig or self.kubeconfig}",
                               "--request-timeout=30s", *args],
                              input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}\n{self.logs_tail()}")
        return done

    def logs_tail(self, lines: int = 15) -> str:
        """The last lines of every component's log, for failure messages."""
        out = []
        for name in self.procs:
            path = self.root / f"{name}.log"
            if path.exists():
                tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                out.append(f"--- {name} ---\n" + "\n".join(tail))
        return "\n".join(out)

    def _spawn(self, name: str, args: Sequence[str]) -> None:
        with (self.root / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
                                                stdin=subprocess.DEVNULL, start_new_session=True)

    def _terminate(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)

    def _wait_http(self, url: str, deadline: float, what: str) -> None:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        last = ""
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise ClusterError(f"{name} exited with {proc.returncode}\n{self.logs_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=5, context=ctx if url.startswith("https") else None) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError) as e:
                last = str(e)
            time.sleep(0.2)
        raise ClusterError(f"{what} did not become ready ({url}: {last})\n{self.logs_tail()}")

    def _etcd_args(self) -> list[str]:
        client, peer = f"http://127.0.0.1:{self.ports['etcd']}", f"http://127.0.0.1:{self.ports['etcd_peer']}"
        return [str(self.bin_dir / "etcd"), "--name=gen-test", f"--data-dir={self.root / 'etcd'}",
                f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=gen-test={peer}", "--unsafe-no-fsync", "--log-level=warn"]

    def _apiserver_args(self, port: int) -> list[str]:
        pki = self.pki
        return [str(self.bin_dir / "kube-apiserver"),
                "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={port}",
                f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}",
                f"--tls-cert-file={pki / 'serving.crt'}", f"--tls-private-key-file={pki / 'serving.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--kubelet-client-certificate={pki / 'admin.crt'}", f"--kubelet-client-key={pki / 'admin.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--service-cluster-ip-range=10.96.0.0/16", "--authorization-mode=Node,RBAC",
                "--endpoint-reconciler-type=none", "--allow-privileged=false", "--v=0"]

    def _controller_manager_args(self) -> list[str]:
        return [str(self.bin_dir / "kube-controller-manager"), f"--kubeconfig={self.kubeconfig}",
                "--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false",
                f"--service-account-private-key-file={self.pki / 'sa.key'}", f"--root-ca-file={self.pki / 'ca.crt'}",
                "--use-service-account-credentials=false", "--controllers=*,-nodeipam"]

    def _scheduler_args(self) -> list[str]:
        return [str(self.bin_dir / "kube-scheduler"), f"--kubeconfig={self.kubeconfig}",
                "--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false"]

    def _kwok_args(self) -> list[str]:
        return [str(self.bin_dir / "kwok"), f"--kubeconfig={self.kubeconfig}", f"--config={self.root / 'kwok.yaml'}",
                "--manage-all-nodes=true", "--node-ip=127.0.0.1", "--node-name=localhost",
                f"--node-port={self.ports['kwok']}", f"--server-address=127.0.0.1:{self.ports['kwok']}",
                f"--tls-cert-file={self.pki / 'serving.crt'}", f"--tls-private-key-file={self.pki / 'serving.key'}",
                "--node-lease-duration-seconds=40", "--cidr=10.244.0.0/24"]

    @staticmethod
    def _node_manifest() -> str:
        return (f"apiVersion: v1\nkind: Node\nmetadata:\n  name: {NODE}\n"
                f"  labels:\n    kubernetes.io/hostname: {NODE}\n    kubernetes.io/os: linux\n    type: kwok\n"
                "  annotations:\n    kwok.x-k8s.io/node: fake\n")


def start_cluster(root: Path, *, kubectl: Path) -> Cluster:
    """Build nothing, start everything: a Cluster whose node is Ready (stopped again if starting fails)."""
    cluster = Cluster(root=root, bin_dir=kube_bin_dir(), kubectl=kubectl)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


def main() -> None:
    """`python -m tests.kube.cluster [DIR]`: start a control plane, print how to use it, wait for Ctrl-C."""
    import tempfile

    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="gen-kube."))
    kubectl = REPO / ".tools" / "bin" / "kubectl"
    cluster = start_cluster(root, kubectl=kubectl if kubectl.exists() else Path(shutil.which("kubectl") or "kubectl"))
    print(f"control plane ready: export KUBECONFIG={cluster.kubeconfig}   (Ctrl-C stops it)", flush=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
