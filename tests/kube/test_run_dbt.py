"""run-dbt.sh and the dbt-job chart against a real Kubernetes control plane (tests/kube/cluster.py).

What is real: etcd, kube-apiserver (authentication, RBAC, Pod Security admission), the Job, garbage
collector and TTL controllers, the scheduler, kubectl and helm. What is simulated: the node and what
its pods do. KWOK plays the kubelet by the stages in tests/kube/kwok-stages.yaml: a pod succeeds unless
its labels say otherwise (gen.test/outcome=fail: it fails; =hold: it runs until the test removes the
label), an image pull failure is a stage keyed on one image name, and every container's log is one
canned file. So these tests prove what the script and the chart do with the Kubernetes API, not what
dbt prints.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import yaml

from tests.kube.cluster import Cluster, kubeconfig_text
from tests.kube.conftest import (
    CANNED,
    SPARE,
    UNPULLABLE_REPOSITORY,
    KubeProject,
    make_namespace,
    out,
)
from tests.task_project import SESSION_TIME

HOLD = {"gen.test/outcome": "hold"}
FAIL = {"gen.test/outcome": "fail"}


def job_labels(job: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = job["metadata"]["labels"]
    return labels


def release(project: KubeProject, job: str) -> None:
    """Let a held pod of job finish successfully (kwok's pod-complete stage applies once the label goes)."""
    project.kubectl("label", "pods", "-l", f"job-name={job}", "gen.test/outcome-")


def created_job(run_output: str) -> str:
    m = re.search(r"Job (dbt-orders-[0-9a-f]{10}-\d+) created", run_output)
    assert m, run_output
    return m.group(1)


# --- outcomes ---------------------------------------------------------------------------------


def test_success_applies_the_rendered_job_and_shows_its_logs(project: KubeProject) -> None:
    proc = project.run()
    assert proc.returncode == 0, out(proc)
    [job] = project.jobs()
    name = job["metadata"]["name"]
    assert re.fullmatch(r"dbt-orders-[0-9a-f]{10}-1", name)
    assert f"job={name} try=1 selects=2" in proc.stdout
    assert CANNED in proc.stdout  # the pod's log lands in Digdag's task log
    assert f"Job {name} succeeded" in proc.stdout
    labels = job_labels(job)
    assert labels["digdag.io/try"] == "1" and re.fullmatch(r"[0-9a-f]{16}", labels["digdag.io/attempt-key"])
    assert labels["digdag.io/attempt-id"] == "7" and labels["digdag.io/session-id"] == "42"
    assert job["spec"]["activeDeadlineSeconds"] == 300 + 300
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"]["conditions"])
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "registry.example/analytics/dbt:2024.03.1"
    assert c["args"][:7] == ["build", "--target", "prod", "--select", "stg_orders", "--select", "fct_orders.v2"]
    assert c["args"][7] == "--vars"
    assert json.loads(c["args"][8]) == {"region": "jp", "digdag_session_time": SESSION_TIME}
    assert c["args"][9:] == ["--indirect-selection", "buildable"]
    assert project.kubectl("get", "configmaps", "-l", "app.kubernetes.io/component=dbt-profiles",
                           "-o", "name").stdout.strip().startswith("configmap/dbt-job-profiles-")
    assert not list(Path(project.env["TMPDIR"]).glob("run-dbt.*"))  # its temp dir is cleaned up


def test_dbt_failure_shows_the_logs_and_exits_1(project: KubeProject) -> None:
    project.write_values(podLabels=FAIL)
    proc = project.run()
    assert proc.returncode == 1, out(proc)
    assert CANNED in proc.stdout
    assert "failed (BackoffLimitExceeded): dbt build did not succeed" in proc.stdout
    [job] = project.jobs()
    assert not job["metadata"].get("deletionTimestamp")  # a failed Job is kept (TTL) for inspection


def test_session_time_mode_defaults_to_env_as_in_gen(project: KubeProject) -> None:
    env = {k: v for k, v in project.env.items() if k != "GEN_SESSION_TIME_MODE"}
    project.env = env
    proc = project.run(GEN_VARS="")
    assert proc.returncode == 0, out(proc)
    c = project.jobs()[0]["spec"]["template"]["spec"]["containers"][0]
    assert c["args"][c["args"].index("--vars") + 1] == "{}"
    assert {"name": "DIGDAG_SESSION_TIME", "value": SESSION_TIME} in c["env"]


AWKWARD_SELECTS = ["stg_orders", 'with "double" and \'single\' quotes', "dollar $HOME ${x} $(id) `uname`",
                   "back\\slash \\n", "multi\nline\ttab", "日本語モデル ✓ café 🚀", "a/b", "--target", "  spaced  "]
AWKWARD_VARS = {"q": 'He said "hi"', "d": "${x} $y `z` $(rm -rf /)", "nl": "a\nb\r\nc", "ja": "東京 🗼",
                "n": 3, "f": 2.5, "b": False, "nested": {"k": ["x", "$y", {"z": "'"}]}}


def test_awkward_values_reach_the_api_server_exactly(project: KubeProject) -> None:
    """JSON as gen writes it ($ as \\u0024), and with every non-ASCII character escaped (surrogate pairs
    for the emoji): helm decodes it, and the Job read back from the API holds the exact text."""
    for i, ascii_only in enumerate((False, True)):
        def enc(v: object, ascii_only: bool = ascii_only) -> str:
            return json.dumps(v, ensure_ascii=ascii_only).replace("$", "\\u0024") + "\n"
        proc = project.run(GEN_SELECTS=enc(AWKWARD_SELECTS), GEN_VARS=enc(AWKWARD_VARS), GEN_ATTEMPT_ID=str(10 + i))
        assert proc.returncode == 0, out(proc)
        c = project.jobs()[i]["spec"]["template"]["spec"]["containers"][0]
        selects = [c["args"][j + 1] for j, a in enumerate(c["args"]) if a == "--select"]
        assert selects == AWKWARD_SELECTS
        assert json.loads(c["args"][c["args"].index("--vars") + 1]) == {**AWKWARD_VARS,
                                                                        "digdag_session_time": SESSION_TIME}


# --- retries and re-runs --------------------------------------------------------------------------


def test_task_retry_starts_a_fresh_job(project: KubeProject) -> None:
    """A task `_retry:` runs the task again with the same attempt id: the failed try is kept and a new
    try (a new Job) runs dbt again."""
    project.write_values(podLabels=FAIL)
    first = project.run()
    assert first.returncode == 1, out(first)
    project.write_values()  # the cause is fixed; Digdag retries the task
    second = project.run()
    assert second.returncode == 0, out(second)
    jobs = project.jobs()
    assert [job_labels(j)["digdag.io/try"] for j in jobs] == ["1", "2"]
    assert len({job_labels(j)["digdag.io/attempt-key"] for j in jobs}) == 1
    assert f"try 1 of this attempt (Job {jobs[0]['metadata']['name']}) failed: this is a retry" in second.stdout
    assert f"job={jobs[1]['metadata']['name']} try=2" in second.stdout


def test_digdag_retry_is_a_new_attempt_with_a_fresh_job(project: KubeProject) -> None:
    project.write_values(podLabels=FAIL)
    assert project.run().returncode == 1
    project.write_values()
    second = project.run(GEN_ATTEMPT_ID="8")  # `digdag retry` makes a new attempt
    assert second.returncode == 0, out(second)
    jobs = project.jobs()
    assert [job_labels(j)["digdag.io/try"] for j in jobs] == ["1", "1"]
    assert jobs[0]["metadata"]["name"] != jobs[1]["metadata"]["name"]
    assert job_labels(jobs[1])["digdag.io/attempt-id"] == "8"
    assert "failed: this is a retry" not in second.stdout


def test_rerun_of_the_same_try_waits_on_the_running_job(project: KubeProject) -> None:
    """An agent dies while dbt runs (SIGKILL to the task's process group: no trap runs, the Job stays);
    the task is started again with the same attempt and waits on that Job instead of running dbt twice."""
    project.write_values(podLabels=HOLD)
    first = project.start()
    first.wait_for("is running")
    job = created_job(first.output)
    os.killpg(first.proc.pid, signal.SIGKILL)
    first.finish()
    second = project.start()
    second.wait_for(f"Job {job} (try 1 of this attempt) is still running")
    release(project, job)
    rc, output = second.finish()
    assert rc == 0, output
    assert f"Job {job} succeeded" in output
    assert [j["metadata"]["name"] for j in project.jobs()] == [job]  # one Job: dbt ran once
    assert "applied" not in output


def test_rerun_after_success_reports_it_without_a_new_job(project: KubeProject) -> None:
    assert project.run().returncode == 0
    second = project.run()
    assert second.returncode == 0, out(second)
    assert "already succeeded: reporting it; dbt is not run again" in second.stdout
    assert len(project.jobs()) == 1


# --- pods that never start ----------------------------------------------------------------------


def test_unschedulable_pod_never_starts(project: KubeProject) -> None:
    """Real scheduler: no node carries the label the Job's nodeSelector asks for."""
    project.write_values(nodeSelector={"gen.test/pool": "none"})
    proc = project.run(GEN_START_TIMEOUT_SECONDS="2")
    assert proc.returncode == 5, out(proc)
    assert "never started within GEN_START_TIMEOUT_SECONDS=2s" in proc.stderr
    assert "Unschedulable" in out(proc)
    job = re.search(r"job=(\S+)", proc.stdout)
    assert job and project.job_gone(job.group(1))


def test_image_pull_failure_never_starts(project: KubeProject) -> None:
    """SIMULATED: nothing pulls images here. kwok's pod-image-pull-backoff stage gives pods of this one
    image the status a kubelet reports for an image it cannot pull (ImagePullBackOff and its message)."""
    project.write_values(image={"repository": UNPULLABLE_REPOSITORY, "tag": "v1"})
    proc = project.run(GEN_IMAGE_TAG="unpullable")
    assert proc.returncode == 5, out(proc)
    assert "never started: ImagePullBackOff" in proc.stderr
    assert f'Back-off pulling image "{UNPULLABLE_REPOSITORY}:unpullable"' in proc.stdout
    job = re.search(r"job=(\S+)", proc.stdout)
    assert job and project.job_gone(job.group(1))


# --- timeouts, vanished Jobs, the API going away ------------------------------------------------------


def test_timeout_deletes_the_job(project: KubeProject) -> None:
    project.write_values(podLabels=HOLD)
    proc = project.run(GEN_TIMEOUT_SECONDS="4")
    assert proc.returncode == 4, out(proc)
    assert "did not finish within GEN_TIMEOUT_SECONDS=4s" in proc.stdout
    assert CANNED in proc.stdout  # the logs so far were streamed
    job = re.search(r"job=(\S+)", proc.stdout)
    assert job and f"deleting Job {job.group(1)} (timeout)" in proc.stdout
    assert project.job_gone(job.group(1))


def test_logs_are_streamed_while_the_pod_runs(project: KubeProject) -> None:
    """A line the (simulated) container writes while it runs reaches the task log before the Job ends."""
    project.write_values(podLabels=HOLD)
    run = project.start()
    run.wait_for(CANNED)
    line = f"streamed while running {time.time_ns()}"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    with project.cluster.log_file.open("a", encoding="utf-8") as f:
        f.write(f"{stamp}.000000000Z stdout F {line}\n")
    run.wait_for(line)
    job = created_job(run.output)
    assert run.proc.poll() is None and not project.jobs()[0]["status"].get("conditions")  # still running
    release(project, job)
    rc, output = run.finish()
    assert rc == 0, output
    assert output.index(line) < output.index(f"Job {job} succeeded")


def test_job_deleted_underneath(project: KubeProject) -> None:
    project.write_values(podLabels=HOLD)
    run = project.start()
    run.wait_for(CANNED)
    job = created_job(run.output)
    project.kubectl("delete", "job", job, "--cascade=background", "--wait=false")
    rc, output = run.finish()
    assert rc == 3, output
    assert f"Job {job} no longer exists: it was deleted by someone else" in output
    assert "the Job vanished; its logs up to then are above" in output


def test_api_server_stopped_during_the_wait_and_started_again(project: KubeProject, spare_apiserver: Path) -> None:
    """The script's API server goes away while the Job runs, and comes back: the wait goes on, the log
    stream is resumed, and nothing is started twice."""
    project.write_values(podLabels=HOLD)
    run = project.start(KUBECONFIG=str(spare_apiserver), GEN_API_RETRY_SECONDS="120")
    run.wait_for(CANNED)
    job = created_job(run.output)
    project.cluster.stop_apiserver(SPARE)
    try:
        run.wait_for(f"WARNING: polling Job {job}: Kubernetes API error, retrying")
    finally:
        project.cluster.start_apiserver(SPARE)
    run.wait_for("the Kubernetes API answers again")
    release(project, job)
    rc, output = run.finish()
    assert rc == 0, output
    assert f"Job {job} succeeded" in output
    assert output.count(CANNED) == 1  # the resumed log stream did not repeat the log
    assert len(project.jobs()) == 1


def test_api_server_down_at_the_start_is_waited_for(project: KubeProject, spare_apiserver: Path) -> None:
    """The API is away before anything is applied: the first calls are retried until it is back."""
    project.cluster.stop_apiserver(SPARE)
    try:
        run = project.start(KUBECONFIG=str(spare_apiserver), GEN_API_RETRY_SECONDS="120")
        run.wait_for("Kubernetes API error, retrying")
    finally:
        project.cluster.start_apiserver(SPARE)
    rc, output = run.finish()
    assert rc == 0, output
    assert "the Kubernetes API answers again" in output
    assert len(project.jobs()) == 1


def test_api_server_away_too_long_gives_up_clearly(project: KubeProject, spare_apiserver: Path) -> None:
    project.write_values(podLabels=HOLD)
    run = project.start(KUBECONFIG=str(spare_apiserver), GEN_API_RETRY_SECONDS="2")
    run.wait_for(CANNED)
    job = created_job(run.output)
    project.cluster.stop_apiserver(SPARE)
    try:
        rc, output = run.finish()
    finally:
        project.cluster.start_apiserver(SPARE)
    assert rc == 3, output
    assert f"polling Job {job}: the Kubernetes API did not answer" in output
    assert "GEN_API_RETRY_SECONDS=2s" in output
    assert f"Job {job} may still exist: kubectl -n {project.ns} get job {job}" in output


def test_stalled_api_server_cannot_hold_the_run_past_its_deadline(project: KubeProject,
                                                                  spare_apiserver: Path) -> None:
    """The script's API server is frozen (SIGSTOP: connections are accepted, nothing answers) while the
    script waits: every request times out, and the run ends as a timeout at its deadline."""
    project.write_values(podLabels=HOLD)
    run = project.start(KUBECONFIG=str(spare_apiserver), GEN_TIMEOUT_SECONDS="12", GEN_REQUEST_TIMEOUT_SECONDS="2",
                        GEN_API_RETRY_SECONDS="600")
    run.wait_for(CANNED)
    job = created_job(run.output)
    apiserver = project.cluster.procs[SPARE]
    apiserver.send_signal(signal.SIGSTOP)
    try:
        rc, output = run.finish(timeout=90)
    finally:
        apiserver.send_signal(signal.SIGCONT)
    assert rc == 4, output
    assert f"Job {job} did not finish within GEN_TIMEOUT_SECONDS=12s" in output
    assert f"WARNING: could not delete Job {job}" in output  # the API was still frozen; said so


def test_sigterm_deletes_the_job_it_created(project: KubeProject) -> None:
    """Digdag kills a task with SIGTERM: the Job this run created must not keep running."""
    project.write_values(podLabels=HOLD)
    run = project.start()
    run.wait_for(CANNED)
    job = created_job(run.output)
    run.proc.send_signal(signal.SIGTERM)
    rc, output = run.finish()
    assert rc == 143, output
    assert f"interrupted: deleting Job {job}" in output
    assert project.job_gone(job)


def test_context_is_passed_to_kubectl(project: KubeProject, tmp_path: Path) -> None:
    """GEN_K8S_CONTEXT picks the context: the kubeconfig's current context points nowhere."""
    cluster = project.cluster
    good = yaml.safe_load(cluster.kubeconfig.read_text(encoding="utf-8"))
    context = "arn:aws:eks:ap-northeast-1:123456789012:cluster/prod"
    good["contexts"][0]["name"] = context
    good["clusters"].append({"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}})
    good["contexts"].append({"name": "nowhere", "context": {"cluster": "nowhere", "user": "admin"}})
    good["current-context"] = "nowhere"
    config = tmp_path / "two-contexts.kubeconfig"
    config.write_text(yaml.safe_dump(good), encoding="utf-8")
    proc = project.run(KUBECONFIG=str(config), GEN_K8S_CONTEXT=context)
    assert proc.returncode == 0, out(proc)
    assert f"context={context}" in proc.stdout
    without = project.run(KUBECONFIG=str(config), GEN_API_RETRY_SECONDS="0", GEN_ATTEMPT_ID="99")
    assert without.returncode == 3, out(without)
    assert "the Kubernetes API did not answer" in without.stderr


# --- security: RBAC and Pod Security ---------------------------------------------------------------


README = Path(__file__).resolve().parents[2] / "README.md"


def documented_role() -> dict[str, Any]:
    """The Role in the README's Kubernetes section (the one yaml block with kind: Role)."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    roles: list[dict[str, Any]] = [doc for block in blocks if "kind: Role\n" in block
                                   for doc in yaml.safe_load_all(block) if doc and doc.get("kind") == "Role"]
    assert len(roles) == 1, "the README documents exactly one Role"
    return roles[0]


def role_permissions(role: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(api group, resource, verb) for every rule of the Role."""
    return [(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]]


def can_i_words(group: str, resource: str, verb: str) -> str:
    """How run-dbt.sh names a permission (its `kubectl auth can-i` arguments)."""
    base, _, sub = resource.partition("/")
    name = f"{base}.{group}" if group else base
    return f"{verb} {name}" + (f" --subresource={sub}" if sub else "")


def service_account_kubeconfig(project: KubeProject, role: dict[str, Any], path: Path) -> Path:
    """A ServiceAccount bound to role in the project's namespace; a kubeconfig holding its token."""
    ns = project.ns
    role = {**role, "metadata": {"name": "dbt-runner", "namespace": ns}}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "dbt-runner", "namespace": ns},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "dbt-runner"},
               "subjects": [{"kind": "ServiceAccount", "name": "digdag", "namespace": ns}]}
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "digdag", "namespace": ns}}
    project.cluster.run_kubectl("apply", "-f", "-", stdin="\n---\n".join(json.dumps(d) for d in (sa, role, binding)))
    token = project.kubectl("create", "token", "digdag", "--duration=1h").stdout.strip()
    path.write_text(kubeconfig_text(project.cluster.server, project.cluster.pki / "ca.crt", user="digdag",
                                    token=token), encoding="utf-8")
    return path


def test_documented_role_is_enough(project: KubeProject, tmp_path: Path) -> None:
    """Under a ServiceAccount holding exactly the README's Role: a run succeeds with its logs, and a
    timed-out run deletes its Job (the rarely used verbs work too)."""
    config = service_account_kubeconfig(project, documented_role(), tmp_path / "sa.kubeconfig")
    denied = project.cluster.run_kubectl("-n", project.ns, "get", "secrets", kubeconfig=config, check=False)
    assert denied.returncode != 0 and "Forbidden" in denied.stderr  # the token is not an admin's
    proc = project.run(KUBECONFIG=str(config))
    assert proc.returncode == 0, out(proc)
    assert CANNED in proc.stdout
    project.write_values(podLabels=HOLD)
    timed_out = project.run(KUBECONFIG=str(config), GEN_TIMEOUT_SECONDS="3", GEN_ATTEMPT_ID="8")
    assert timed_out.returncode == 4, out(timed_out)
    assert "WARNING" not in timed_out.stdout
    job = re.search(r"job=(\S+)", timed_out.stdout)
    assert job and project.job_gone(job.group(1))


def test_each_permission_of_the_role_is_needed(project: KubeProject, cluster: Cluster, tmp_path: Path) -> None:
    """Take away one verb at a time: the script refuses to start, naming what is missing."""
    role = documented_role()
    perms = role_permissions(role)
    assert len(perms) >= 9
    for group, resource, verb in perms:
        ns = make_namespace(cluster)
        try:
            project.ns = ns
            rules = []
            for rule in role["rules"]:
                if group in rule["apiGroups"] and resource in rule["resources"]:
                    rule = {**rule, "verbs": [v for v in rule["verbs"] if v != verb]}
                if rule["verbs"]:
                    rules.append(rule)
            config = service_account_kubeconfig(project, {**role, "rules": rules}, tmp_path / f"{ns}.kubeconfig")
            proc = project.run(KUBECONFIG=str(config), GEN_K8S_NAMESPACE=ns)
            assert proc.returncode == 3, (group, resource, verb, out(proc))
            assert (f"missing Kubernetes permission(s) in namespace {ns}: {can_i_words(group, resource, verb)} "
                    "(kubectl auth can-i said no") in proc.stderr, (group, resource, verb)
            assert project.kubectl("get", "jobs", "-o", "name").stdout == ""  # nothing was created
        finally:
            cluster.run_kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_restricted_pod_security_admits_the_job(project: KubeProject, cluster: Cluster) -> None:
    """A namespace enforcing Pod Security "restricted" runs the chart's pods; the same namespace refuses
    them once the security context is taken away (so the enforcement is real)."""
    ns = make_namespace(cluster, {"pod-security.kubernetes.io/enforce": "restricted"})
    try:
        project.ns = ns
        proc = project.run(GEN_K8S_NAMESPACE=ns)
        assert proc.returncode == 0, out(proc)
        project.write_values(podSecurityContext=None, securityContext=None)
        refused = project.run(GEN_K8S_NAMESPACE=ns, GEN_ATTEMPT_ID="8", GEN_START_TIMEOUT_SECONDS="3")
        assert refused.returncode == 5, out(refused)
        events = cluster.run_kubectl("-n", ns, "get", "events", "-o", "json").stdout
        assert "violates PodSecurity" in events
    finally:
        cluster.run_kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_pod_runs_with_the_security_context_and_requests(project: KubeProject) -> None:
    assert project.run().returncode == 0
    [pod] = project.pods_of(project.jobs()[0]["metadata"]["name"])
    spec = pod["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    c = spec["containers"][0]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"}
    assert pod["status"]["qosClass"] == "Burstable"
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["scratch"] == "/tmp"
    assert {"name": "scratch", "emptyDir": {"sizeLimit": "2Gi"}} in spec["volumes"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["DBT_TARGET_PATH"] == "/tmp/dbt/target" and env["DBT_LOG_PATH"] == "/tmp/dbt/logs"
