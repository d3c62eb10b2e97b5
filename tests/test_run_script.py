"""Tests of templates/digdag/scripts/run-dbt.sh.

k8s runner: helm is the real binary from $GEN_TOOLS_BIN (default
<repo>/.tools/bin; missing helm fails the tests). There is no Kubernetes API
server here, so `kubectl` is tests/standins/kubectl, a documented STAND-IN put
first on PATH that records its calls, stores applied manifests and plays Job
states from a scenario file.

local runner: GEN_DBT points at a fake dbt that records its argv as JSON.

Each test lays out a Digdag project the way the generator does (scripts/,
charts/dbt-job, dbt-job-values.yaml) and runs the task command through
/bin/sh, as Digdag's sh> operator does.
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "templates" / "digdag" / "scripts" / "run-dbt.sh"
CHART = REPO / "templates" / "digdag" / "charts" / "dbt-job"
STANDINS = REPO / "tests" / "standins"
TOOLS_BIN = Path(os.environ.get("GEN_TOOLS_BIN") or REPO / ".tools" / "bin")

SESSION_TIME = "2024-03-02T00:00:00+09:00"

USER_VALUES = """\
image:
  repository: registry.example/analytics/dbt
  tag: "2024.03.1"
dbt:
  target: prod
  profiles:
    warehouse:
      target: prod
      outputs:
        prod:
          type: postgres
          host: db.internal
          port: 5432
          user: dbt
          password: "{{ env_var('DBT_PASSWORD') }}"
          dbname: analytics
          schema: public
          threads: 4
secretEnv:
  - name: DBT_PASSWORD
    secretName: warehouse-credentials
    key: password
"""


def gen_json(value) -> str:
    """JSON text as the generator writes it into a .dig file: `$` escaped as \\u0024
    (Digdag would otherwise interpolate ${...}), followed by a newline (YAML `|`)."""
    return json.dumps(value, ensure_ascii=False).replace("$", "\\u0024") + "\n"


def job_name(workflow="orders", session_time=SESSION_TIME, attempt="7", slug="orders"):
    digest = hashlib.sha256(f"{workflow}|{session_time}|{attempt}".encode()).hexdigest()
    return f"dbt-{slug}-{digest[:10]}"


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    path = TOOLS_BIN / "helm"
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"helm not found at {path}: run scripts/install-kube-tools.sh "
            "or point GEN_TOOLS_BIN at a directory holding helm"
        )
    return path


class Project:
    """A generated Digdag project dir plus the kubectl stand-in's state."""

    def __init__(self, root: Path, helm_bin: Path | None):
        self.dir = root / "project"
        self.state = root / "kube"
        self.dir.mkdir()
        self.state.mkdir()
        (self.dir / "scripts").mkdir()
        shutil.copy(SCRIPT, self.dir / "scripts" / "run-dbt.sh")
        shutil.copytree(CHART, self.dir / "charts" / "dbt-job")
        (self.dir / "dbt-job-values.yaml").write_text(USER_VALUES, encoding="utf-8")
        dirs = [str(STANDINS)] + ([str(helm_bin.parent)] if helm_bin else [])
        path = os.pathsep.join([*dirs, str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")])
        self.env = {
            "PATH": path,
            "HOME": str(root),
            "TMPDIR": str(root),
            "KUBECTL_STANDIN_DIR": str(self.state),
            "GEN_RUNNER": "k8s",
            "GEN_WORKFLOW": "orders",
            "GEN_JOB_SLUG": "orders",
            "GEN_SESSION_TIME": SESSION_TIME,
            "GEN_SESSION_ID": "42",
            "GEN_ATTEMPT_ID": "7",
            "GEN_SELECTS": gen_json(["stg_orders", "fct_orders.v2"]),
            "GEN_VARS": gen_json({"region": "jp"}),
            "GEN_SESSION_TIME_MODE": "vars",
            "GEN_K8S_NAMESPACE": "data",
            "GEN_K8S_CONTEXT": "",
            "GEN_CHART": "charts/dbt-job",
            "GEN_CHART_VERSION": "",
            "GEN_IMAGE_TAG": "",
            "GEN_VALUES_FILE": "dbt-job-values.yaml",
            "GEN_TIMEOUT_SECONDS": "3600",
            "GEN_DBT_PROJECT_DIR": "",
            "GEN_DBT_PROFILES_DIR": "",
            "GEN_POLL_SECONDS": "0.02",
            "GEN_STUCK_GRACE_SECONDS": "0",
        }
        self.scenario({"outcome": "succeed", "polls_before_finish": 2,
                       "logs": "Running with dbt=1.8.0\nCompleted successfully\n"})

    def scenario(self, sc: dict):
        (self.state / "scenario.json").write_text(json.dumps(sc))

    def run(self, timeout=120, **env):
        full = {**self.env, **env}
        return subprocess.run(["/bin/sh", "-c", "bash scripts/run-dbt.sh"], cwd=self.dir, env=full,
                              capture_output=True, text=True, encoding="utf-8", timeout=timeout)

    def calls(self) -> list[list[str]]:
        path = self.state / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line)["argv"] for line in path.read_text().splitlines()]

    def applied(self) -> list[list[dict]]:
        d = self.state / "applied"
        if not d.exists():
            return []
        return [[doc for doc in yaml.safe_load_all(p.read_text(encoding="utf-8")) if doc]
                for p in sorted(d.iterdir())]

    def applied_job(self, index=0) -> dict:
        return next(d for d in self.applied()[index] if d["kind"] == "Job")

    def deleted(self) -> list[dict]:
        path = self.state / "deleted.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def project(tmp_path, helm_bin) -> Project:
    return Project(tmp_path, helm_bin)


def out(proc) -> str:
    return proc.stdout + proc.stderr


def args_of(job: dict) -> list[str]:
    return job["spec"]["template"]["spec"]["containers"][0]["args"]


# --- k8s runner ------------------------------------------------------------------

def test_success(project):
    proc = project.run()
    assert proc.returncode == 0, out(proc)
    name = job_name()
    assert re.fullmatch(r"dbt-orders-[0-9a-f]{10}", name)
    assert f"job={name}" in proc.stdout
    assert "workflow=orders" in proc.stdout and f"session_time={SESSION_TIME}" in proc.stdout
    assert "selects=2" in proc.stdout
    assert "Completed successfully" in proc.stdout  # pod logs land in Digdag's task log
    assert f"Job {name} succeeded" in proc.stdout

    [docs] = project.applied()
    assert sorted(d["kind"] for d in docs) == ["ConfigMap", "Job"]
    job = project.applied_job()
    assert job["metadata"]["name"] == name
    assert job["metadata"]["namespace"] == "data"
    assert job["spec"]["activeDeadlineSeconds"] == 3600 + 300
    labels = job["metadata"]["labels"]
    assert labels["digdag.io/workflow"] == "orders"
    assert labels["digdag.io/session-id"] == "42"
    assert labels["digdag.io/attempt-id"] == "7"
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "registry.example/analytics/dbt:2024.03.1"
    assert c["args"][:-1] == ["build", "--target", "prod", "--select", "stg_orders",
                              "--select", "fct_orders.v2", "--vars"]
    assert json.loads(c["args"][-1]) == {"region": "jp", "digdag_session_time": SESSION_TIME}
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["DIGDAG_SESSION_TIME"] == SESSION_TIME
    assert env["DIGDAG_WORKFLOW"] == "orders"
    assert env["DIGDAG_ATTEMPT_ID"] == "7"

    calls = project.calls()
    assert all(c[:2] == ["--namespace", "data"] for c in calls), calls
    verbs = [c[2] for c in calls]
    assert verbs[:2] == ["get", "apply"]
    assert verbs[-1] == "logs"
    assert "delete" not in verbs
    assert any(c[2:4] == ["logs", f"job/{name}"] and "--all-containers=true" in c for c in calls)
    assert project.deleted() == []
    # the temp dir with the rendered manifest is cleaned up
    assert not list(Path(project.env["TMPDIR"]).glob("run-dbt.*"))


def test_context_is_passed_to_kubectl(project):
    proc = project.run(GEN_K8S_CONTEXT="arn:aws:eks:ap-northeast-1:123456789012:cluster/prod")
    assert proc.returncode == 0, out(proc)
    for call in project.calls():
        assert call[:4] == ["--context", "arn:aws:eks:ap-northeast-1:123456789012:cluster/prod",
                            "--namespace", "data"]


def test_dbt_failure(project):
    project.scenario({"outcome": "fail", "polls_before_finish": 2,
                      "logs": "Database Error in model fct_orders\nrelation \"raw.orders\" does not exist\n"})
    proc = project.run()
    assert proc.returncode == 1, out(proc)
    assert "Database Error in model fct_orders" in proc.stdout
    assert "failed (BackoffLimitExceeded)" in proc.stdout
    assert project.deleted() == []  # a failed Job is kept (TTL) for inspection


def test_pod_never_starts_image_pull_backoff(project):
    project.scenario({"outcome": "image_pull_backoff"})
    proc = project.run(GEN_IMAGE_TAG="does-not-exist")
    assert proc.returncode == 5, out(proc)
    assert "never started: ImagePullBackOff" in out(proc)
    assert 'Back-off pulling image "registry.example/analytics/dbt:does-not-exist"' in out(proc)
    assert [d["name"] for d in project.deleted()] == [job_name()]


def test_pod_unschedulable_fails_after_start_timeout(project):
    project.scenario({"outcome": "unschedulable"})
    proc = project.run(GEN_START_TIMEOUT_SECONDS="1")
    assert proc.returncode == 5, out(proc)
    assert "never started within GEN_START_TIMEOUT_SECONDS=1s" in out(proc)
    assert "Unschedulable" in out(proc)
    assert [d["name"] for d in project.deleted()] == [job_name()]


def test_timeout_deletes_job(project):
    project.scenario({"outcome": "never_finish", "logs": "1 of 40 START sql table model fct_orders\n"})
    proc = project.run(GEN_TIMEOUT_SECONDS="1")
    assert proc.returncode == 4, out(proc)
    assert "did not finish within GEN_TIMEOUT_SECONDS=1s" in proc.stdout
    assert f"deleting Job {job_name()}" in proc.stdout
    assert "1 of 40 START" in proc.stdout  # logs so far are shown
    [deleted] = project.deleted()
    assert deleted["name"] == job_name()
    assert "--cascade=background" in deleted["argv"]


def test_retry_attempt_gets_new_job(project):
    first = project.run()
    assert first.returncode == 0, out(first)
    second = project.run(GEN_ATTEMPT_ID="8")
    assert second.returncode == 0, out(second)
    names = [project.applied_job(i)["metadata"]["name"] for i in range(2)]
    assert names == [job_name(attempt="7"), job_name(attempt="8")]
    assert names[0] != names[1]
    assert "already exists" not in out(second)


def test_same_attempt_rerun_reports_existing_job(project):
    first = project.run()
    assert first.returncode == 0, out(first)
    second = project.run()
    assert second.returncode == 0, out(second)
    assert len(project.applied()) == 1  # no second apply, no second Job
    assert f"Job {job_name()} already exists" in second.stdout
    assert "Not starting a new run" in second.stdout
    assert f"Job {job_name()} succeeded" in second.stdout


def test_same_attempt_rerun_reports_existing_failure(project):
    project.scenario({"outcome": "fail", "polls_before_finish": 1, "logs": "Compilation Error\n"})
    assert project.run().returncode == 1
    second = project.run()
    assert second.returncode == 1, out(second)
    assert "already exists" in second.stdout and "Compilation Error" in second.stdout
    assert len(project.applied()) == 1


AWKWARD_SELECTS = [
    "stg_orders",
    'with "double" and \'single\' quotes',
    "dollar $HOME and ${session_time} and $(id) and `uname -a`",
    "back\\slash \\n not-a-newline",
    "multi\nline\ttab",
    "日本語モデル ✓ café 🚀",
    "{{ var('x') }} {% raw %} # hash",
    "tag:nightly,config.materialized:table",
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


def bmp_only(value):
    """The awkward values without characters outside the Basic Multilingual Plane."""
    return json.loads(re.sub(r"[\U00010000-\U0010FFFF]", "?", json.dumps(value, ensure_ascii=False)))


@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_awkward_values_arrive_exactly(project, ensure_ascii):
    selects, dbt_vars = AWKWARD_SELECTS, AWKWARD_VARS
    if ensure_ascii:  # every non-ASCII character arrives as a \uXXXX escape
        selects, dbt_vars = bmp_only(selects), bmp_only(dbt_vars)
        enc = lambda v: json.dumps(v, ensure_ascii=True).replace("$", "\\u0024") + "\n"  # noqa: E731
    else:
        enc = gen_json
    proc = project.run(GEN_SELECTS=enc(selects), GEN_VARS=enc(dbt_vars))
    assert proc.returncode == 0, out(proc)
    assert f"selects={len(selects)}" in proc.stdout
    args = args_of(project.applied_job())
    expected = ["build", "--target", "prod"]
    for s in selects:
        expected += ["--select", s]
    assert args[:-1] == [*expected, "--vars"]
    assert json.loads(args[-1]) == {**dbt_vars, "digdag_session_time": SESSION_TIME}


def test_session_time_env_mode(project):
    proc = project.run(GEN_SESSION_TIME_MODE="env", GEN_VARS="{}")
    assert proc.returncode == 0, out(proc)
    job = project.applied_job()
    assert args_of(job)[-2:] == ["--vars", "{}"]
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DIGDAG_SESSION_TIME"] == SESSION_TIME


def test_image_tag_override_and_empty_values_file(project):
    proc = project.run(GEN_IMAGE_TAG="v2.0.1", GEN_VALUES_FILE="")
    assert proc.returncode == 0, out(proc)
    c = project.applied_job()["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "dbt-project:v2.0.1"  # chart default repository, overridden tag


def test_long_workflow_name(project):
    wf = "orders_" + "x" * 193
    assert len(wf) == 200
    proc = project.run(GEN_WORKFLOW=wf, GEN_JOB_SLUG="orders-" + "x" * 23)
    assert proc.returncode == 0, out(proc)
    job = project.applied_job()
    name = job["metadata"]["name"]
    assert len(name) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name)
    assert name == job_name(workflow=wf, slug="orders-" + "x" * 23)
    assert job["metadata"]["annotations"]["digdag.io/workflow"] == wf
    assert job["metadata"]["labels"]["digdag.io/workflow"] == "orders-" + "x" * 23


def test_dry_run_applies_nothing(project):
    proc = project.run(GEN_DRY_RUN="true")
    assert proc.returncode == 0, out(proc)
    docs = [d for d in yaml.safe_load_all(proc.stdout.split("nothing is applied\n", 1)[1]) if d]
    assert {d["kind"] for d in docs} == {"ConfigMap", "Job"}
    assert project.calls() == []


def test_helm_template_failure_exits_3(project):
    (project.dir / "dbt-job-values.yaml").write_text(
        USER_VALUES.replace("\"{{ env_var('DBT_PASSWORD') }}\"", "hunter2"), encoding="utf-8")
    proc = project.run()
    assert proc.returncode == 3, out(proc)
    assert "must not hold a credential" in proc.stderr
    assert "helm template failed" in proc.stderr
    assert project.calls() == []


def test_missing_helm_exits_3(project):
    proc = project.run(GEN_HELM="/nonexistent/helm")
    assert proc.returncode == 3, out(proc)
    assert "helm not found" in proc.stderr


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
    ({"GEN_SELECTS": ""}, "GEN_SELECTS must be a JSON array of strings"),
    ({"GEN_VARS": '{"a": 1}, "image": {"repository": "evil"}'}, "GEN_VARS must be a JSON object"),
    ({"GEN_VARS": '["a"]'}, "GEN_VARS must be a JSON object"),
    ({"GEN_VARS": '{"a": "b", "c": 1'}, "GEN_VARS must be a JSON object"),
    ({"GEN_SELECTS": json.dumps(["rocket 🚀"], ensure_ascii=True)}, "GEN_SELECTS contains text helm cannot carry"),
    ({"GEN_VARS": '{"path": "a\\/b"}'}, "GEN_VARS contains text helm cannot carry"),
    ({"GEN_SELECTS": '["a\u0085b\u0080"]'}, "GEN_SELECTS contains text helm cannot carry"),
    ({"GEN_SELECTS": '["x\\u0080"]'}, "GEN_SELECTS contains text helm cannot carry"),
    ({"GEN_K8S_NAMESPACE": ""}, "GEN_K8S_NAMESPACE must be a DNS label"),
    ({"GEN_K8S_NAMESPACE": "Data"}, "GEN_K8S_NAMESPACE must be a DNS label"),
    ({"GEN_K8S_CONTEXT": "--kubeconfig=/etc/x"}, "GEN_K8S_CONTEXT must be"),
    ({"GEN_VALUES_FILE": "missing.yaml"}, "GEN_VALUES_FILE does not exist"),
    ({"GEN_CHART": "oci://registry.example/charts/dbt-job"}, "GEN_CHART_VERSION must be set"),
    ({"GEN_CHART": "charts/dbt-job", "GEN_CHART_VERSION": ">=0.1"}, "GEN_CHART_VERSION must be an exact chart version"),
    ({"GEN_IMAGE_TAG": "v1;id"}, "GEN_IMAGE_TAG must be"),
    ({"GEN_TIMEOUT_SECONDS": "1h"}, "GEN_TIMEOUT_SECONDS must be"),
]


@pytest.mark.parametrize("env, message", BAD_INPUTS, ids=[next(iter(e)) + str(i) for i, (e, _) in enumerate(BAD_INPUTS)])
def test_invalid_input_exits_2(project, env, message):
    proc = project.run(**env)
    assert proc.returncode == 2, out(proc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert project.calls() == []


def test_kill_deletes_the_job_it_created(project):
    """Digdag kills a task with SIGTERM: the Job this run created must not keep running."""
    project.scenario({"outcome": "never_finish"})
    env = {**project.env, "GEN_POLL_SECONDS": "0.05"}
    proc = subprocess.Popen(["bash", "scripts/run-dbt.sh"], cwd=project.dir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not any(c[2:3] == ["get"] and "jsonpath" in " ".join(c) for c in project.calls()):
        assert time.monotonic() < deadline and proc.poll() is None, "script never started polling"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, output
    assert "interrupted: deleting Job" in output
    assert [d["name"] for d in project.deleted()] == [job_name()]


# --- the stand-in itself ---------------------------------------------------------------

def _script_jsonpath(var: str) -> str:
    m = re.search(rf"^{var}='(.*)'$", SCRIPT.read_text(), re.M)
    assert m, var
    return m.group(1)


def test_standin_jsonpath_agrees_with_real_kubectl(tmp_path):
    """The stand-in answers the script's JSONPath queries as real kubectl does
    (checked offline with `kubectl label --local`, which needs no server)."""
    kubectl = TOOLS_BIN / "kubectl"
    if not (kubectl.is_file() and os.access(kubectl, os.X_OK)):
        pytest.fail(f"kubectl not found at {kubectl}: run scripts/install-kube-tools.sh")
    loader = importlib.machinery.SourceFileLoader("kubectl_standin", str(STANDINS / "kubectl"))
    spec = importlib.util.spec_from_loader("kubectl_standin", loader)
    standin = importlib.util.module_from_spec(spec)
    loader.exec_module(standin)

    job_tmpl = _script_jsonpath("JOB_JSONPATH")
    pod_tmpl = _script_jsonpath("POD_JSONPATH")
    prefix, suffix = "{range .items[*]}", "{end}"
    assert pod_tmpl.startswith(prefix) and pod_tmpl.endswith(suffix)
    per_pod_tmpl = pod_tmpl[len(prefix):-len(suffix)]  # `label --local` prints item by item

    manifest = {"spec": {"template": {"spec": {"containers": [{"image": "img:1"}]}}}}
    objects = []
    for outcome in ("succeed", "fail", "image_pull_backoff", "unschedulable", "never_finish"):
        sc = {"outcome": outcome, "polls_before_finish": 1}
        job = {"polls": 1, "manifest": manifest}
        objects.append((job_tmpl, standin.job_object("dbt-a-1", job, sc)))
        pod = standin.pod_object("dbt-a-1", job, sc)
        objects.append((per_pod_tmpl, {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": []}, **pod}))
    for i, (tmpl, obj) in enumerate(objects):
        obj.setdefault("spec", {"template": {"spec": {"containers": []}}})
        f = tmp_path / f"obj{i}.json"
        f.write_text(json.dumps(obj))
        real = subprocess.run([str(kubectl), "label", "--local", "-f", str(f), "x=y", "-o", "jsonpath=" + tmpl],
                              capture_output=True, text=True, env={"PATH": os.environ.get("PATH", ""),
                                                                   "HOME": str(tmp_path), "KUBECONFIG": os.devnull})
        assert real.returncode == 0, real.stderr
        assert standin.jsonpath(tmpl, obj) == real.stdout, obj


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


@pytest.fixture
def local(tmp_path):
    project = Project(tmp_path, helm_bin=None)  # the local runner needs no helm
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
        "FAKE_DBT_RECORD": str(tmp_path / "record.json"),
    })
    project.record = tmp_path / "record.json"
    return project


def test_local_runner_exact_argv(local):
    proc = local.run(GEN_SELECTS=gen_json(AWKWARD_SELECTS), GEN_VARS=gen_json(AWKWARD_VARS),
                     GEN_DBT_PROFILES_DIR="dbt")
    assert proc.returncode == 0, out(proc)
    assert "fake dbt ran" in proc.stdout
    assert f"selects={len(AWKWARD_SELECTS)}" in proc.stdout
    rec = json.loads(local.record.read_text(encoding="utf-8"))
    dbt_dir = str(local.dir / "dbt")
    expected = ["build", "--project-dir", dbt_dir, "--profiles-dir", dbt_dir]
    for s in AWKWARD_SELECTS:
        expected += ["--select", s]
    assert rec["argv"][:-1] == [*expected, "--vars"]
    assert json.loads(rec["argv"][-1]) == {**AWKWARD_VARS, "digdag_session_time": SESSION_TIME}
    assert rec["session_time"] == SESSION_TIME
    assert rec["workflow"] == "orders"
    # dbt runs in the dbt project, so a profile's relative paths resolve there, not in the Digdag project
    assert rec["cwd"] == dbt_dir
    assert local.calls() == []  # nothing touches kubectl


def test_local_runner_env_mode_and_exit_code(local):
    proc = local.run(GEN_SESSION_TIME_MODE="env", GEN_VARS="", FAKE_DBT_EXIT="1")
    assert proc.returncode == 1, out(proc)
    rec = json.loads(local.record.read_text(encoding="utf-8"))
    assert rec["argv"] == ["build", "--project-dir", str(local.dir / "dbt"), "--select", "stg_orders",
                           "--select", "fct_orders.v2", "--vars", "{}"]
    assert rec["session_time"] == SESSION_TIME


def test_local_runner_requires_project_dir(local):
    proc = local.run(GEN_DBT_PROJECT_DIR="")
    assert proc.returncode == 2
    assert "GEN_DBT_PROJECT_DIR must be set" in proc.stderr


def test_local_runner_validates_session_time(local):
    proc = local.run(GEN_SESSION_TIME="now")
    assert proc.returncode == 2
    assert "GEN_SESSION_TIME must be an ISO-8601 timestamp with offset" in proc.stderr
    assert not local.record.exists()
