"""Tests of templates/digdag/scripts/run-dbt.sh that need no cluster.

k8s runner: what the script renders (GEN_DRY_RUN=true prints the manifests it would apply, through
the real helm from $GEN_TOOLS_BIN, default <repo>/.tools/bin) and the inputs it refuses. Everything
that talks to Kubernetes is tested against a real control plane in tests/kube/.

local runner: GEN_DBT points at a fake dbt that records its argv as JSON.

Each test lays out a Digdag project the way the generator does (scripts/, charts/dbt-job,
dbt-job-values.yaml) and runs the task command through /bin/sh, as Digdag's sh> operator does.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_tool
from tests.task_project import SESSION_TIME, USER_VALUES, lay_out, task_env, write_values

REPO = Path(__file__).resolve().parents[1]


def gen_json(value: Any) -> str:
    """JSON text as the generator writes it into a .dig file: `$` escaped as \\u0024
    (Digdag would otherwise interpolate ${...}), followed by a newline (YAML `|`)."""
    return json.dumps(value, ensure_ascii=False).replace("$", "\\u0024") + "\n"


def job_prefix(workflow: str = "orders", session_time: str = SESSION_TIME, attempt: str = "7",
               slug: str = "orders") -> str:
    digest = hashlib.sha256(f"{workflow}|{session_time}|{attempt}".encode()).hexdigest()
    return f"dbt-{slug}-{digest[:10]}"


class Project:
    """A generated Digdag project dir; kubectl points at no cluster (KUBECONFIG is an empty file)."""

    def __init__(self, root: Path, helm: Path | None):
        self.dir = root / "project"
        lay_out(self.dir)
        (root / "kubeconfig").write_text("", encoding="utf-8")
        dirs = [str(helm.parent)] if helm else []
        path = os.pathsep.join([*dirs, str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")])
        self.env = {**task_env(path=path, home=root, kubeconfig=root / "kubeconfig", namespace="data"),
                    "GEN_KUBECTL": str(require_tool("kubectl")), "GEN_DRY_RUN": "true"}

    def run(self, **env: str) -> subprocess.CompletedProcess[str]:
        full = {**self.env, **env}
        return subprocess.run(["/bin/sh", "-c", "bash scripts/run-dbt.sh"], cwd=self.dir, env=full,
                              capture_output=True, text=True, encoding="utf-8", timeout=120, check=False)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path, require_tool("helm"))


def out(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout + proc.stderr


def rendered(proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    """The manifests a dry run printed, by kind."""
    assert proc.returncode == 0, out(proc)
    docs = [d for d in yaml.safe_load_all(proc.stdout.split("nothing is applied\n", 1)[1]) if d]
    return {d["kind"]: d for d in docs}


def container(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    c: dict[str, Any] = rendered(proc)["Job"]["spec"]["template"]["spec"]["containers"][0]
    return c


# --- k8s runner: what is rendered --------------------------------------------------------------

def test_dry_run_renders_the_first_try_and_needs_no_kubectl(project: Project) -> None:
    proc = project.run(GEN_KUBECTL="/nonexistent/kubectl")
    objs = rendered(proc)
    assert set(objs) == {"ConfigMap", "Job"}
    job = objs["Job"]
    name = job["metadata"]["name"]
    assert name == job_prefix() + "-1"
    assert f"job={name} selects=2" in proc.stdout
    labels = job["metadata"]["labels"]
    assert labels["digdag.io/try"] == "1"
    assert labels["digdag.io/attempt-key"] == hashlib.sha256(f"orders|{SESSION_TIME}|7".encode()).hexdigest()[:16]
    assert job["spec"]["activeDeadlineSeconds"] == 3600 + 300
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["args"][:-1] == ["build", "--target", "prod", "--select", "stg_orders", "--select", "fct_orders.v2",
                              "--vars"]
    assert json.loads(c["args"][-1]) == {"region": "jp", "digdag_session_time": SESSION_TIME}
    assert not list(Path(project.env["TMPDIR"]).glob("run-dbt.*"))  # the temp dir is cleaned up


AWKWARD_SELECTS = [
    "stg_orders",
    'with "double" and \'single\' quotes',
    "dollar $HOME and ${session_time} and $(id) and `uname -a`",
    "back\\slash \\n not-a-newline",
    "multi\nline\ttab",
    "日本語モデル ✓ café 🚀",
    "{{ var('x') }} {% raw %} # hash",
    "tag:nightly,config.materialized:table",
    "path/with/slashes",
    "--target",
    "  spaced  ",
]
AWKWARD_VARS = {
    "q": 'He said "hi" & <b>bold</b>',
    "d": "${x} $y `z` $(rm -rf /)",
    "nl": "a\nb\r\nc",
    "ja": "東京 🗼",
    "n": 3,
    "f": 2.5,
    "b": False,
    "nested": {"k": ["x", "$y", {"z": "'"}]},
    "jinja": "{{ env_var('DBT_PASSWORD') }}",
}


@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_awkward_values_arrive_exactly(project: Project, ensure_ascii: bool) -> None:
    """Every character arrives, whether written literally or escaped (\\uXXXX, surrogate pairs, \\/)."""
    def enc(value: Any) -> str:
        text = json.dumps(value, ensure_ascii=ensure_ascii).replace("$", "\\u0024")
        return text.replace("/", "\\/") + "\n" if ensure_ascii else text + "\n"

    proc = project.run(GEN_SELECTS=enc(AWKWARD_SELECTS), GEN_VARS=enc(AWKWARD_VARS))
    args = container(proc)["args"]
    assert f"selects={len(AWKWARD_SELECTS)}" in proc.stdout
    expected = ["build", "--target", "prod"]
    for s in AWKWARD_SELECTS:
        expected += ["--select", s]
    assert args[:-1] == [*expected, "--vars"]
    assert json.loads(args[-1]) == {**AWKWARD_VARS, "digdag_session_time": SESSION_TIME}


def test_thousands_of_selects(project: Project) -> None:
    """The inputs are decoded by helm, not by a parser in bash (which took 30 s for 3,000 selects)."""
    selects = [f"model_{i:05d}" for i in range(3000)]
    proc = project.run(GEN_SELECTS=gen_json(selects))
    args = container(proc)["args"]
    assert [args[i + 1] for i, a in enumerate(args) if a == "--select"] == selects
    assert "selects=3000" in proc.stdout


def test_session_time_mode_defaults_to_env(project: Project) -> None:
    env = dict(project.env)
    del env["GEN_SESSION_TIME_MODE"]
    project.env = env
    c = container(project.run(GEN_VARS=""))
    assert c["args"][-2:] == ["--vars", "{}"]
    assert {"name": "DIGDAG_SESSION_TIME", "value": SESSION_TIME} in c["env"]


def test_dbt_args_follow_the_vars(project: Project) -> None:
    c = container(project.run(GEN_DBT_ARGS='["--indirect-selection", "buildable"]'))
    assert c["args"][-2:] == ["--indirect-selection", "buildable"]


def test_image_tag_override_and_empty_values_file(project: Project) -> None:
    c = container(project.run(GEN_IMAGE_TAG="v2.0.1", GEN_VALUES_FILE=""))
    assert c["image"] == "dbt-project:v2.0.1"  # chart default repository, overridden tag


def test_long_workflow_name(project: Project) -> None:
    wf = "orders_" + "x" * 193
    assert len(wf) == 200
    slug = "orders-" + "x" * 23
    job = rendered(project.run(GEN_WORKFLOW=wf, GEN_JOB_SLUG=slug))["Job"]
    name = job["metadata"]["name"]
    assert len(name) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name)
    assert name == job_prefix(workflow=wf, slug=slug) + "-1"
    assert job["metadata"]["annotations"]["digdag.io/workflow"] == wf
    assert job["metadata"]["labels"]["digdag.io/workflow"] == slug


def test_helm_template_failure_exits_3(project: Project) -> None:
    values = copy.deepcopy(USER_VALUES)
    values["dbt"]["profiles"]["warehouse"]["outputs"]["prod"]["password"] = "hunter2"
    write_values(project.dir, values)
    proc = project.run()
    assert proc.returncode == 3, out(proc)
    assert "must not hold a credential" in proc.stderr
    assert "helm template failed" in proc.stderr


def test_missing_helm_exits_3(project: Project) -> None:
    proc = project.run(GEN_HELM="/nonexistent/helm")
    assert proc.returncode == 3, out(proc)
    assert "helm not found" in proc.stderr


def test_missing_kubectl_exits_3(project: Project) -> None:
    proc = project.run(GEN_DRY_RUN="false", GEN_KUBECTL="/nonexistent/kubectl")
    assert proc.returncode == 3, out(proc)
    assert "kubectl not found" in proc.stderr


def test_unreachable_api_exits_3_with_the_reason(project: Project) -> None:
    """An empty kubeconfig makes kubectl try localhost:8080, where nothing listens: a transient error,
    retried for GEN_API_RETRY_SECONDS, then a clear exit 3."""
    proc = project.run(GEN_DRY_RUN="false", GEN_API_RETRY_SECONDS="1", GEN_RETRY_BACKOFF_SECONDS="0.1")
    assert proc.returncode == 3, out(proc)
    assert "kubectl auth can-i" in proc.stderr and "the Kubernetes API did not answer" in proc.stderr
    assert "refused" in proc.stderr


BAD_INPUTS = [
    ({"GEN_SESSION_TIME": "2024-03-02 00:00:00"}, "GEN_SESSION_TIME must be an ISO-8601 timestamp with offset"),
    ({"GEN_SESSION_TIME": "2024-03-02T00:00:00"}, "GEN_SESSION_TIME must be an ISO-8601 timestamp with offset"),
    ({"GEN_SESSION_TIME": "2024-03-02T00:00:00+09:00; rm -rf /"}, "GEN_SESSION_TIME must be"),
    ({"GEN_SESSION_TIME": ""}, "GEN_SESSION_TIME must be"),
    ({"GEN_ATTEMPT_ID": "7a"}, "GEN_ATTEMPT_ID must be digits"),
    ({"GEN_SESSION_ID": ""}, "GEN_SESSION_ID must be digits"),
    ({"GEN_JOB_SLUG": "Orders"}, "GEN_JOB_SLUG must be a DNS-safe slug"),
    ({"GEN_JOB_SLUG": "o" * 31}, "GEN_JOB_SLUG must be at most 30 characters"),
    ({"GEN_WORKFLOW": "orders-daily"}, "GEN_WORKFLOW must be a workflow name"),
    ({"GEN_WORKFLOW": "w" * 201}, "GEN_WORKFLOW must be at most 200 characters"),
    ({"GEN_RUNNER": "docker"}, "GEN_RUNNER must be"),
    ({"GEN_SESSION_TIME_MODE": "both"}, "GEN_SESSION_TIME_MODE must be"),
    ({"GEN_SELECTS": '["a"], "image": {"repository": "evil"}, "x": ["b"]'}, "GEN_SELECTS must be a JSON array of strings"),
    ({"GEN_SELECTS": "[1, 2]"}, "GEN_SELECTS must be a JSON array of strings"),
    ({"GEN_SELECTS": "stg_orders"}, "GEN_SELECTS must be a JSON array of strings"),
    ({"GEN_SELECTS": '{"a": "b"}'}, "GEN_SELECTS must be a JSON array of strings"),
    ({"GEN_SELECTS": ""}, "GEN_SELECTS must be a JSON array of strings"),
    ({"GEN_VARS": '{"a": 1}, "image": {"repository": "evil"}'}, "GEN_VARS must be a JSON object"),
    ({"GEN_VARS": '["a"]'}, "GEN_VARS must be a JSON object"),
    ({"GEN_VARS": '{"a": "b", "c": 1'}, "GEN_VARS must be a JSON object"),
    ({"GEN_DBT_ARGS": '["--full-refresh", 1]'}, "GEN_DBT_ARGS must be a JSON array of strings"),
    ({"GEN_DBT_ARGS": '--full-refresh'}, "GEN_DBT_ARGS must be a JSON array of strings"),
    ({"GEN_SELECTS": '["a\u0085b\u0080"]'}, "GEN_SELECTS contains text a Kubernetes manifest cannot carry"),
    ({"GEN_SELECTS": '["x\\u0080"]'}, "GEN_SELECTS contains text a Kubernetes manifest cannot carry"),
    ({"GEN_VARS": '{"x": "\\uffff"}'}, "GEN_VARS contains text a Kubernetes manifest cannot carry"),
    ({"GEN_SELECTS": json.dumps(["m" * 131001])}, "GEN_SELECTS is too long"),
    ({"GEN_K8S_NAMESPACE": ""}, "GEN_K8S_NAMESPACE must be a DNS label"),
    ({"GEN_K8S_NAMESPACE": "Data"}, "GEN_K8S_NAMESPACE must be a DNS label"),
    ({"GEN_K8S_CONTEXT": "--kubeconfig=/etc/x"}, "GEN_K8S_CONTEXT must be"),
    ({"GEN_VALUES_FILE": "missing.yaml"}, "GEN_VALUES_FILE does not exist"),
    ({"GEN_CHART": "oci://registry.example/charts/dbt-job"}, "GEN_CHART_VERSION must be set"),
    ({"GEN_CHART": "charts/dbt-job", "GEN_CHART_VERSION": ">=0.1"}, "GEN_CHART_VERSION must be an exact chart version"),
    ({"GEN_IMAGE_TAG": "v1;id"}, "GEN_IMAGE_TAG must be"),
    ({"GEN_TIMEOUT_SECONDS": "1h"}, "GEN_TIMEOUT_SECONDS must be"),
    ({"GEN_REQUEST_TIMEOUT_SECONDS": "0"}, "GEN_REQUEST_TIMEOUT_SECONDS must be"),
    ({"GEN_API_RETRY_SECONDS": "-1"}, "GEN_API_RETRY_SECONDS must be"),
]


@pytest.mark.parametrize("env, message", BAD_INPUTS, ids=[next(iter(e)) + str(i) for i, (e, _) in enumerate(BAD_INPUTS)])
def test_invalid_input_exits_2(project: Project, env: dict[str, str], message: str) -> None:
    """Refused with one line naming the variable, before any kubectl call (the kubeconfig names no
    cluster, so a call would have failed with exit 3)."""
    proc = project.run(GEN_DRY_RUN="false", **env)
    assert proc.returncode == 2, out(proc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


# --- local runner ------------------------------------------------------------------

FAKE_DBT = """\
#!{python}
import json, os, sys
with open(os.environ["FAKE_DBT_RECORD"], "w", encoding="utf-8") as f:
    json.dump({{"argv": sys.argv[1:], "session_time": os.environ.get("DIGDAG_SESSION_TIME"),
               "workflow": os.environ.get("DIGDAG_WORKFLOW"), "cwd": os.getcwd()}}, f, ensure_ascii=False)
print("fake dbt ran")
sys.exit(int(os.environ.get("FAKE_DBT_EXIT", "0")))
"""


class Local(Project):
    record: Path


@pytest.fixture
def local(tmp_path: Path) -> Local:
    project = Local(tmp_path, helm=None)  # the local runner needs no helm
    fake = tmp_path / "fake-dbt"
    fake.write_text(FAKE_DBT.format(python=sys.executable))
    fake.chmod(0o755)
    (project.dir / "dbt").mkdir()
    project.env.update({
        "GEN_RUNNER": "local",
        "GEN_DBT": str(fake),
        "GEN_PYTHON": sys.executable,
        "GEN_DBT_PROJECT_DIR": "dbt",
        "GEN_DBT_PROFILES_DIR": "",
        "GEN_KUBECTL": "/nonexistent/kubectl",
        "FAKE_DBT_RECORD": str(tmp_path / "record.json"),
    })
    project.record = tmp_path / "record.json"
    return project


def test_local_runner_exact_argv(local: Local) -> None:
    proc = local.run(GEN_SELECTS=gen_json(AWKWARD_SELECTS), GEN_VARS=gen_json(AWKWARD_VARS),
                     GEN_DBT_PROFILES_DIR="dbt", GEN_DBT_ARGS='["--fail-fast"]')
    assert proc.returncode == 0, out(proc)
    assert "fake dbt ran" in proc.stdout
    assert f"selects={len(AWKWARD_SELECTS)}" in proc.stdout
    rec = json.loads(local.record.read_text(encoding="utf-8"))
    dbt_dir = str(local.dir / "dbt")
    expected = ["build", "--project-dir", dbt_dir, "--profiles-dir", dbt_dir]
    for s in AWKWARD_SELECTS:
        expected += ["--select", s]
    assert rec["argv"][:-3] == expected
    assert rec["argv"][-3] == "--vars"
    assert json.loads(rec["argv"][-2]) == {**AWKWARD_VARS, "digdag_session_time": SESSION_TIME}
    assert rec["argv"][-1] == "--fail-fast"
    assert rec["session_time"] == SESSION_TIME
    assert rec["workflow"] == "orders"
    # dbt runs in the dbt project, so a profile's relative paths resolve there, not in the Digdag project
    assert rec["cwd"] == dbt_dir


def test_local_runner_env_mode_is_the_default_and_exit_code_passes(local: Local) -> None:
    env = dict(local.env)
    del env["GEN_SESSION_TIME_MODE"]
    local.env = env
    proc = local.run(GEN_VARS="", FAKE_DBT_EXIT="1")
    assert proc.returncode == 1, out(proc)
    rec = json.loads(local.record.read_text(encoding="utf-8"))
    assert rec["argv"] == ["build", "--project-dir", str(local.dir / "dbt"), "--select", "stg_orders",
                           "--select", "fct_orders.v2", "--vars", "{}"]
    assert rec["session_time"] == SESSION_TIME


@pytest.mark.parametrize("env, message", [
    ({"GEN_SELECTS": "[1]"}, "GEN_SELECTS must be a JSON array of strings"),
    ({"GEN_VARS": "[]"}, "GEN_VARS must be a JSON object"),
    ({"GEN_DBT_ARGS": "{"}, "GEN_DBT_ARGS must be valid JSON"),
])
def test_local_runner_refuses_bad_json(local: Local, env: dict[str, str], message: str) -> None:
    proc = local.run(**env)
    assert proc.returncode == 2, out(proc)
    assert message in proc.stderr
    assert not local.record.exists()


def test_local_runner_requires_project_dir(local: Local) -> None:
    proc = local.run(GEN_DBT_PROJECT_DIR="")
    assert proc.returncode == 2
    assert "GEN_DBT_PROJECT_DIR must be set" in proc.stderr


def test_local_runner_validates_session_time(local: Local) -> None:
    proc = local.run(GEN_SESSION_TIME="now")
    assert proc.returncode == 2
    assert "GEN_SESSION_TIME must be an ISO-8601 timestamp with offset" in proc.stderr
    assert not local.record.exists()
