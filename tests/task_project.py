"""The dbt task of a generated Digdag project as Digdag's sh> runs it: the files run-dbt.sh reads
(scripts/, charts/dbt-job, the user's dbt-job-values.yaml) and the environment the generated .dig
exports for workflow `orders`. Shared by tests/test_run_script.py (no cluster) and tests/kube/ (a
real control plane), which add what differs: the cluster, timeouts, a dry run."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO

SCRIPT = REPO / "templates" / "digdag" / "scripts" / "run-dbt.sh"
CHART = REPO / "templates" / "digdag" / "charts" / "dbt-job"
SESSION_TIME = "2024-03-02T00:00:00+09:00"

# A user's dbt-job-values.yaml: the image, a profile whose password comes from a Secret.
USER_VALUES: dict[str, Any] = {
    "image": {"repository": "registry.example/analytics/dbt", "tag": "2024.03.1"},
    "dbt": {
        "target": "prod",
        "profiles": {"warehouse": {"target": "prod", "outputs": {"prod": {
            "type": "postgres", "host": "db.internal", "port": 5432, "user": "dbt",
            "password": "{{ env_var('DBT_PASSWORD') }}", "dbname": "analytics", "schema": "public",
            "threads": 4}}}},
    },
    "secretEnv": [{"name": "DBT_PASSWORD", "secretName": "warehouse-credentials", "key": "password"}],
}


def lay_out(project: Path) -> None:
    """Copy run-dbt.sh and the chart into a new project folder and write USER_VALUES, as gen does."""
    (project / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, project / "scripts" / "run-dbt.sh")
    shutil.copytree(CHART, project / "charts" / "dbt-job")
    write_values(project, USER_VALUES)


def write_values(project: Path, values: Mapping[str, Any]) -> None:
    """The user's dbt-job-values.yaml."""
    (project / "dbt-job-values.yaml").write_text(yaml.safe_dump(dict(values)), encoding="utf-8")


def task_env(*, path: str, home: Path, kubeconfig: Path, namespace: str) -> dict[str, str]:
    """The environment of the task of workflow `orders`, session 42, attempt 7 (the values its .dig exports)."""
    return {
        "PATH": path,
        "HOME": str(home),
        "TMPDIR": str(home),
        "KUBECONFIG": str(kubeconfig),
        "GEN_RUNNER": "k8s",
        "GEN_WORKFLOW": "orders",
        "GEN_JOB_SLUG": "orders",
        "GEN_SESSION_TIME": SESSION_TIME,
        "GEN_SESSION_ID": "42",
        "GEN_ATTEMPT_ID": "7",
        "GEN_SELECTS": '["stg_orders", "fct_orders.v2"]\n',
        "GEN_VARS": '{"region": "jp"}\n',
        "GEN_SESSION_TIME_MODE": "vars",
        "GEN_K8S_NAMESPACE": namespace,
        "GEN_K8S_CONTEXT": "",
        "GEN_CHART": "charts/dbt-job",
        "GEN_CHART_VERSION": "",
        "GEN_IMAGE_TAG": "",
        "GEN_VALUES_FILE": "dbt-job-values.yaml",
        "GEN_TIMEOUT_SECONDS": "3600",
        "GEN_DBT_PROJECT_DIR": "",
        "GEN_DBT_PROFILES_DIR": "",
    }
