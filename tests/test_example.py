"""The bundled example end to end without Digdag: dbt-core parses it, the committed out/ is exactly what
gen generates from that manifest, and every generated workflow renders a valid Kubernetes Job through
its own `_env` block, the real script and the real helm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gen.output import compare_tree
from gen.pipeline import Inputs, generate
from tests.conftest import EXAMPLE, REPO, require_tool
from tests.digload import dbt_env, load

pytestmark = pytest.mark.dbt


@pytest.fixture(scope="module")
def generated():  # type: ignore[no-untyped-def]
    return generate(Inputs(project_dir=EXAMPLE, parse=True))


def test_committed_out_is_what_dbt_parse_plus_gen_produce(generated) -> None:  # type: ignore[no-untyped-def]
    changes = compare_tree(generated.tree, REPO / "out", with_diff=True)
    assert not changes.changed, "out/ is stale; run `make example`:\n" + "".join(changes.diffs.values())[:4000]
    assert not changes.foreign, f"out/ holds files gen did not write: {changes.foreign}"
    names = {w.name for w in generated.plan.workflows}
    assert {"stg_orders", "fct_daily_orders", "fct_hourly_events", "customer_marts", "fct_orders_v1",
            "fct_orders_v2", "countries", "customers_snapshot", "mart_daily_summary"} <= names
    assert "mart_legacy_report" not in names  # meta.digdag.enabled: false


def test_cli_check_on_the_committed_out() -> None:
    done = subprocess.run([sys.executable, "-m", "gen", "workflows", "--parse", "--project-dir", str(EXAMPLE),
                           "--out", str(REPO / "out"), "--check"], capture_output=True, text=True, cwd=REPO,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "leaked semaphore" not in done.stderr  # dbt ran in-process; its semaphores are released at exit


def test_every_workflow_renders_a_valid_job_through_the_real_script(tmp_path: Path) -> None:
    import kubernetes_validate  # test dependency; missing means failure, not a skip

    helm = require_tool("helm")
    digs = sorted((REPO / "out").glob("*.dig"))
    assert len(digs) >= 9
    for dig in digs:
        env = dict(os.environ) | dbt_env(REPO / "out", dig.stem) | {"GEN_DRY_RUN": "true", "GEN_HELM": str(helm),
                                                   "GEN_KUBECTL": "/bin/false"}
        done = subprocess.run(["bash", "scripts/run-dbt.sh"], cwd=REPO / "out", env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, (dig.name, done.stderr[-2000:])
        docs = [d for d in yaml.safe_load_all(done.stdout[done.stdout.find("---"):]) if d]
        kinds = sorted(d["kind"] for d in docs)
        assert kinds == ["ConfigMap", "Job"], (dig.name, kinds)
        for doc in docs:
            kubernetes_validate.validate(doc, "1.30", strict=True)
        (job,) = [d for d in docs if d["kind"] == "Job"]
        args = job["spec"]["template"]["spec"]["containers"][0]["args"]
        selects = [args[i + 1] for i, a in enumerate(args) if a == "--select"]
        assert selects == json.loads(load(dig)["_export"]["gen_selects"])
        assert "--indirect-selection" in args
        assert job["metadata"]["namespace"] == "data"
