"""Tests of the dbt-job Helm chart with the real `helm` binary.

helm is taken from $GEN_TOOLS_BIN (default <repo>/.tools/bin, filled by
scripts/install-kube-tools.sh); a missing helm fails these tests.
Rendered objects are validated against the Kubernetes OpenAPI schemas that
ship inside the kubernetes-validate wheel (no network needed).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "templates" / "digdag" / "charts" / "dbt-job"
TOOLS_BIN = Path(os.environ.get("GEN_TOOLS_BIN") or REPO / ".tools" / "bin")
K8S_VERSION = "1.30"

LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
DNS_1123_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

JOB_NAME = "dbt-orders-0123456789"

PROFILES = {
    "warehouse": {
        "target": "prod",
        "outputs": {
            "prod": {
                "type": "postgres",
                "host": "db.internal",
                "port": 5432,
                "user": "dbt",
                "password": "{{ env_var('DBT_PASSWORD') }}",
                "dbname": "analytics",
                "schema": "public",
                "threads": 4,
            }
        },
    }
}

SECRET_ENV = [{"name": "DBT_PASSWORD", "secretName": "warehouse-credentials", "key": "password"}]


def run_values(**over):
    """Values like the ones run-dbt.sh generates, plus user settings."""
    values = {
        "image": {"repository": "registry.example/analytics/dbt", "tag": "2024.03.1"},
        "dbt": {"profiles": PROFILES, "target": "prod"},
        "secretEnv": SECRET_ENV,
        "envFrom": [{"secretRef": {"name": "dbt-extra-env"}}],
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        "serviceAccountName": "dbt-runner",
        "nodeSelector": {"pool": "batch"},
        "tolerations": [{"key": "batch", "operator": "Exists", "effect": "NoSchedule"}],
        "podLabels": {"team": "data"},
        "podAnnotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
        "labels": {"cost-center": "analytics"},
        "annotations": {"owner": "data-platform"},
        "dbtRunParameters": {
            "selects": ["stg_orders", "fct_orders.v2"],
            "vars": {"region": "jp"},
            "sessionTimeMode": "vars",
        },
        "digdag": {
            "workflow": "orders",
            "jobSlug": "orders",
            "sessionTime": "2024-03-02T00:00:00+09:00",
            "sessionId": "123",
            "attemptId": "456",
            "timeoutSeconds": 3600,
        },
    }
    for key, val in over.items():
        if isinstance(val, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **val}
        else:
            values[key] = val
    return values


@pytest.fixture(scope="session")
def helm() -> str:
    path = TOOLS_BIN / "helm"
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"helm not found at {path}: run scripts/install-kube-tools.sh "
            "or point GEN_TOOLS_BIN at a directory holding helm"
        )
    return str(path)


def helm_template(helm, tmp_path, values=None, release=JOB_NAME, check=True):
    cmd = [helm, "template", release, str(CHART), "--namespace", "data"]
    if values is not None:
        vf = tmp_path / f"values-{len(list(tmp_path.iterdir()))}.json"
        vf.write_text(json.dumps(values, ensure_ascii=False), encoding="utf-8")
        cmd += ["-f", str(vf)]
    proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8")
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def render(helm, tmp_path, values=None, release=JOB_NAME):
    proc = helm_template(helm, tmp_path, values, release)
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    return {d["kind"]: d for d in docs}, docs


def container(objs):
    return objs["Job"]["spec"]["template"]["spec"]["containers"][0]


def env_map(c):
    return {e["name"]: e for e in c.get("env", [])}


def test_helm_lint_default_values(helm):
    proc = subprocess.run([helm, "lint", "--strict", str(CHART)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


def test_helm_lint_with_run_values(helm, tmp_path):
    vf = tmp_path / "v.json"
    vf.write_text(json.dumps(run_values()))
    proc = subprocess.run([helm, "lint", "--strict", str(CHART), "-f", str(vf)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_renders_configmap_and_job(helm, tmp_path):
    objs, docs = render(helm, tmp_path, run_values())
    assert sorted(d["kind"] for d in docs) == ["ConfigMap", "Job"]
    job = objs["Job"]
    assert job["apiVersion"] == "batch/v1"
    assert job["metadata"]["name"] == JOB_NAME
    assert job["metadata"]["namespace"] == "data"
    spec = job["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["ttlSecondsAfterFinished"] == 86400
    assert spec["activeDeadlineSeconds"] == 3600 + 300
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == "dbt-runner"
    assert pod["automountServiceAccountToken"] is False
    assert pod["nodeSelector"] == {"pool": "batch"}
    c = container(objs)
    assert c["image"] == "registry.example/analytics/dbt:2024.03.1"
    assert c["command"] == ["dbt"]
    assert c["args"] == [
        "build", "--target", "prod",
        "--select", "stg_orders", "--select", "fct_orders.v2",
        "--vars", c["args"][-1],
    ]
    assert json.loads(c["args"][-1]) == {"region": "jp", "digdag_session_time": "2024-03-02T00:00:00+09:00"}
    env = env_map(c)
    assert env["DIGDAG_SESSION_TIME"]["value"] == "2024-03-02T00:00:00+09:00"
    assert env["DIGDAG_WORKFLOW"]["value"] == "orders"
    assert env["DIGDAG_ATTEMPT_ID"]["value"] == "456"
    assert env["DIGDAG_SESSION_ID"]["value"] == "123"
    assert env["DBT_PROFILES_DIR"]["value"] == "/etc/dbt"
    assert env["DBT_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "warehouse-credentials", "key": "password"}}
    assert c["envFrom"] == [{"secretRef": {"name": "dbt-extra-env"}}]
    cm = objs["ConfigMap"]
    assert cm["immutable"] is True
    assert c["volumeMounts"] == [{"name": "scratch", "mountPath": "/tmp"},
                                 {"name": "dbt-profiles", "mountPath": "/etc/dbt", "readOnly": True}]
    assert pod["volumes"] == [{"name": "scratch", "emptyDir": {"sizeLimit": "2Gi"}},
                              {"name": "dbt-profiles", "configMap": {"name": cm["metadata"]["name"]}}]
    assert yaml.safe_load(cm["data"]["profiles.yml"]) == PROFILES


def test_every_object_validates_against_kubernetes_schema(helm, tmp_path):
    import kubernetes_validate  # a test dependency: missing means failure, not a skip

    for values in (None, run_values(), run_values(dbt={"existingProfilesConfigMap": "shared-profiles"})):
        _, docs = render(helm, tmp_path, values)
        assert docs
        for doc in docs:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_labels_and_annotations_for_operators(helm, tmp_path):
    long_workflow = "w" + "_very_long_workflow_name" * 8
    assert len(long_workflow) > 63
    values = run_values(digdag={"workflow": long_workflow, "jobSlug": "very-long-wf"})
    objs, docs = render(helm, tmp_path, values)
    job = objs["Job"]
    pod_meta = job["spec"]["template"]["metadata"]
    for labels in (job["metadata"]["labels"], pod_meta["labels"]):
        assert labels["app.kubernetes.io/name"] == "dbt-job"
        assert labels["app.kubernetes.io/instance"] == JOB_NAME
        assert labels["app.kubernetes.io/managed-by"] == "digdag"
        assert labels["digdag.io/workflow"] == "very-long-wf"
        assert labels["digdag.io/session-id"] == "123"
        assert labels["digdag.io/attempt-id"] == "456"
        assert labels["cost-center"] == "analytics"
    assert pod_meta["labels"]["team"] == "data"
    for ann in (job["metadata"]["annotations"], pod_meta["annotations"]):
        assert ann["digdag.io/workflow"] == long_workflow
        assert ann["digdag.io/session-time"] == "2024-03-02T00:00:00+09:00"
    assert job["metadata"]["annotations"]["owner"] == "data-platform"
    assert pod_meta["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    for doc in docs:
        for key, val in doc["metadata"].get("labels", {}).items():
            assert isinstance(val, str) and len(val) <= 63 and LABEL_VALUE_RE.match(val), (key, val)


def test_label_falls_back_to_sanitized_workflow_without_slug(helm, tmp_path):
    values = run_values(digdag={"workflow": "_Orders_" + "x" * 100, "jobSlug": ""})
    objs, _ = render(helm, tmp_path, values)
    val = objs["Job"]["metadata"]["labels"]["digdag.io/workflow"]
    assert len(val) <= 63 and LABEL_VALUE_RE.match(val)
    assert val.startswith("Orders_")


def test_profiles_configmap_holds_no_secret_values(helm, tmp_path):
    secret_value = "s3cr3t-Pa55word"
    objs, docs = render(helm, tmp_path, run_values())
    cm = objs["ConfigMap"]
    assert set(cm["data"]) == {"profiles.yml"}
    profiles = yaml.safe_load(cm["data"]["profiles.yml"])
    assert profiles["warehouse"]["outputs"]["prod"]["password"] == "{{ env_var('DBT_PASSWORD') }}"
    assert secret_value not in json.dumps(docs)
    # The credential reaches the container only through a secretKeyRef.
    env = env_map(container(objs))
    assert env["DBT_PASSWORD"] == {"name": "DBT_PASSWORD", "valueFrom": {"secretKeyRef": {
        "name": "warehouse-credentials", "key": "password"}}}
    assert "value" not in env["DBT_PASSWORD"]


@pytest.mark.parametrize("where", ["password", "keyfile_json.private_key", "token"])
def test_plaintext_credentials_in_profiles_are_refused(helm, tmp_path, where):
    profiles = json.loads(json.dumps(PROFILES))
    out = profiles["warehouse"]["outputs"]["prod"]
    if where == "keyfile_json.private_key":
        out["keyfile_json"] = {"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----"}
    else:
        out[where] = "s3cr3t-Pa55word"
    values = run_values(dbt={"profiles": profiles})
    proc = helm_template(helm, tmp_path, values, check=False)
    assert proc.returncode != 0
    assert "must not hold a credential" in proc.stderr
    assert "s3cr3t" not in proc.stdout
    # Raw profiles.yml text is checked the same way.
    values = run_values(dbt={"profiles": yaml.safe_dump(profiles)})
    proc = helm_template(helm, tmp_path, values, check=False)
    assert proc.returncode != 0 and "must not hold a credential" in proc.stderr
    # The explicit escape hatch renders.
    values = run_values(dbt={"profiles": profiles, "allowPlaintextSecrets": True})
    helm_template(helm, tmp_path, values)


def test_profiles_configmap_name_is_content_addressed(helm, tmp_path):
    a, _ = render(helm, tmp_path, run_values())
    b, _ = render(helm, tmp_path, run_values(digdag={"attemptId": "999"}), release="dbt-orders-fedcba9876")
    other = json.loads(json.dumps(PROFILES))
    other["warehouse"]["outputs"]["prod"]["threads"] = 8
    c, _ = render(helm, tmp_path, run_values(dbt={"profiles": other}))
    name = a["ConfigMap"]["metadata"]["name"]
    assert DNS_1123_LABEL_RE.match(name.replace(".", "-")) and len(name) <= 63
    assert b["ConfigMap"]["metadata"]["name"] == name  # shared by every run of the same config
    assert b["ConfigMap"] == a["ConfigMap"]  # identical object: re-applying it is a no-op
    assert c["ConfigMap"]["metadata"]["name"] != name


def test_profiles_text_and_existing_configmap(helm, tmp_path):
    text = "warehouse:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: /tmp/x.duckdb}\n"
    objs, _ = render(helm, tmp_path, run_values(dbt={"profiles": text}))
    assert objs["ConfigMap"]["data"]["profiles.yml"] == text

    objs, docs = render(helm, tmp_path, run_values(dbt={"existingProfilesConfigMap": "shared-profiles"}))
    assert [d["kind"] for d in docs] == ["Job"]
    pod = objs["Job"]["spec"]["template"]["spec"]
    assert pod["volumes"][1]["configMap"]["name"] == "shared-profiles"
    assert env_map(container(objs))["DBT_PROFILES_DIR"]["value"] == "/etc/dbt"

    objs, docs = render(helm, tmp_path, run_values(dbt={"profiles": {}}))
    assert [d["kind"] for d in docs] == ["Job"]
    assert "DBT_PROFILES_DIR" not in env_map(container(objs))
    assert [v["name"] for v in objs["Job"]["spec"]["template"]["spec"]["volumes"]] == ["scratch"]


def test_args_carry_awkward_text_exactly(helm, tmp_path):
    selects = [
        "stg_orders",
        'model with "double" and \'single\' quotes',
        "dollar $HOME ${session_time} `uname` $(id)",
        "line1\nline2\ttab",
        "日本語のモデル ✓ emoji 🚀",
        "{{ var('x') }} {% if %} # not a comment",
        "--not-a-flag",
        "",
    ]
    dbt_vars = {
        "q": 'He said "hi" & <b>',
        "d": "${x} $y `z`",
        "nested": {"list": [1, 2.5, True, None, "x"], "ja": "東京"},
        "jinja": "{{ env_var('X') }}",
        "empty": "",
    }
    values = run_values(dbtRunParameters={"selects": selects, "vars": dbt_vars, "sessionTimeMode": "vars"})
    objs, _ = render(helm, tmp_path, values)
    args = container(objs)["args"]
    expected = ["build", "--target", "prod"]
    for s in selects:
        expected += ["--select", s]
    assert args[:-1] == [*expected, "--vars"]
    assert json.loads(args[-1]) == {**dbt_vars, "digdag_session_time": "2024-03-02T00:00:00+09:00"}


def test_session_time_env_mode_leaves_vars_alone(helm, tmp_path):
    values = run_values(dbtRunParameters={"selects": ["a"], "vars": {}, "sessionTimeMode": "env"})
    objs, _ = render(helm, tmp_path, values)
    c = container(objs)
    assert c["args"][-2:] == ["--vars", "{}"]
    assert env_map(c)["DIGDAG_SESSION_TIME"]["value"] == "2024-03-02T00:00:00+09:00"


def test_command_target_extra_args_and_image_overrides(helm, tmp_path):
    values = run_values(
        dbt={"command": ["/usr/local/bin/dbt"], "subcommand": "run", "target": "", "projectDir": "/app",
             "extraArgs": ["--fail-fast", "--threads", "8"]},
        image={"repository": "registry.example/dbt", "tag": "1", "digest": "sha256:" + "a" * 64},
        activeDeadlineSeconds=120,
        ttlSecondsAfterFinished=None,
    )
    objs, _ = render(helm, tmp_path, values)
    c = container(objs)
    assert c["command"] == ["/usr/local/bin/dbt"]
    assert c["args"][:3] == ["run", "--project-dir", "/app"]
    assert c["args"][-3:] == ["--fail-fast", "--threads", "8"]
    assert "--target" not in c["args"]
    assert c["image"] == "registry.example/dbt@sha256:" + "a" * 64
    assert objs["Job"]["spec"]["activeDeadlineSeconds"] == 120
    assert "ttlSecondsAfterFinished" not in objs["Job"]["spec"]


@pytest.mark.parametrize("bad, message", [
    ({"dbtRunParameters": {"selects": ["a"], "vars": {}, "sessionTimeMode": "sometimes"}}, "sessionTimeMode"),
    ({"imagee": {"tag": "x"}}, "imagee"),
    ({"dbtRunParameters": {"selects": "a", "vars": {}, "sessionTimeMode": "vars"}}, "selects"),
    ({"digdag": {"sessionTime": "yesterday"}}, "sessionTime"),
])
def test_values_schema_rejects_bad_values(helm, tmp_path, bad, message):
    proc = helm_template(helm, tmp_path, run_values(**bad), check=False)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_release_name_must_be_a_dns_label(helm, tmp_path):
    proc = helm_template(helm, tmp_path, run_values(), release="Bad_Name", check=False)
    assert proc.returncode != 0


def test_user_labels_cannot_clobber_chart_labels(helm, tmp_path):
    values = run_values(labels={"app.kubernetes.io/component": "mine", "digdag.io/workflow": "mine", "x": "1"},
                        podLabels={"app.kubernetes.io/instance": "mine"})
    objs, _docs = render(helm, tmp_path, values)
    assert objs["ConfigMap"]["metadata"]["labels"]["app.kubernetes.io/component"] == "dbt-profiles"
    assert objs["ConfigMap"]["metadata"]["labels"]["x"] == "1"
    job = objs["Job"]
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "dbt"
    assert job["metadata"]["labels"]["digdag.io/workflow"] == "orders"
    assert job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/instance"] == JOB_NAME


def test_defaults_pass_pod_security_restricted(helm, tmp_path):
    """The rules of Pod Security "restricted" (v1.30) as the rendered pod must meet them; the real
    admission of a restricted namespace is tested in tests/kube/."""
    objs, _ = render(helm, tmp_path, run_values())
    pod = objs["Job"]["spec"]["template"]["spec"]
    c = container(objs)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsUser"] != 0
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True
    allowed = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
               "secret"}
    for volume in pod["volumes"]:
        assert set(volume) - {"name"} <= allowed, volume


def test_scratch_space_is_where_dbt_writes(helm, tmp_path):
    objs, _ = render(helm, tmp_path, run_values())
    env = env_map(container(objs))
    assert env["DBT_TARGET_PATH"]["value"] == "/tmp/dbt/target"
    assert env["DBT_LOG_PATH"]["value"] == "/tmp/dbt/logs"
    objs, _ = render(helm, tmp_path, run_values(scratch={"mountPath": "/scratch/", "sizeLimit": "10Gi",
                                                         "medium": "Memory"}))
    pod = objs["Job"]["spec"]["template"]["spec"]
    assert {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "10Gi"}} in pod["volumes"]
    assert {"name": "scratch", "mountPath": "/scratch/"} in container(objs)["volumeMounts"]
    assert env_map(container(objs))["DBT_TARGET_PATH"]["value"] == "/scratch/dbt/target"
    objs, _ = render(helm, tmp_path, run_values(scratch={"enabled": False}, dbt={"profiles": {}}))
    assert "DBT_TARGET_PATH" not in env_map(container(objs))
    assert "volumes" not in objs["Job"]["spec"]["template"]["spec"]


def test_default_resource_requests_and_overrides(helm, tmp_path):
    objs, _ = render(helm, tmp_path)
    assert container(objs)["resources"] == {"requests": {"cpu": "250m", "memory": "512Mi"}}
    values = run_values(resources={"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "8Gi"}})
    objs, _ = render(helm, tmp_path, values)
    assert container(objs)["resources"] == {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "8Gi"}}
    proc = helm_template(helm, tmp_path, run_values(resources={"request": {"cpu": "1"}}), check=False)
    assert proc.returncode != 0 and "request" in proc.stderr  # a typo fails at render time


def test_security_context_can_be_changed(helm, tmp_path):
    values = run_values(podSecurityContext={"runAsUser": None, "fsGroup": 2000})
    objs, _ = render(helm, tmp_path, values)
    psc = objs["Job"]["spec"]["template"]["spec"]["securityContext"]
    assert "runAsUser" not in psc and psc["fsGroup"] == 2000 and psc["runAsNonRoot"] is True


def test_session_time_mode_defaults_to_env(helm, tmp_path):
    values = run_values()
    del values["dbtRunParameters"]["sessionTimeMode"]
    objs, _ = render(helm, tmp_path, values)
    assert container(objs)["args"][-2:] == ["--vars", '{"region":"jp"}']


def test_attempt_key_and_try_labels(helm, tmp_path):
    objs, _ = render(helm, tmp_path, run_values(digdag={"attemptKey": "0123456789abcdef", "try": 3}))
    for labels in (objs["Job"]["metadata"]["labels"], objs["Job"]["spec"]["template"]["metadata"]["labels"]):
        assert labels["digdag.io/attempt-key"] == "0123456789abcdef"
        assert labels["digdag.io/try"] == "3"
    objs, _ = render(helm, tmp_path, run_values())
    assert "digdag.io/try" not in objs["Job"]["metadata"]["labels"]
    proc = helm_template(helm, tmp_path, run_values(digdag={"attemptKey": "not-hex"}), check=False)
    assert proc.returncode != 0 and "attemptKey" in proc.stderr
