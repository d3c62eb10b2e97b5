"""retry, error, sla and export from gen.yml, rules and meta.digdag: validated where they are written,
layered like every other setting, and the same for every node of a workflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gen.config import parse_config
from gen.errors import GenError, ScheduleError
from gen.manifest import load_manifest
from gen.plan import plan_workflows
from tests.conftest import manifest_dict, node


def plan(tmp_path: Path, config: dict, *nodes: dict):  # type: ignore[no-untyped-def,type-arg]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest_dict(*nodes)))
    return {w.name: w for w in plan_workflows(load_manifest(path), parse_config(config, where="gen.yml")).workflows}


@pytest.mark.parametrize(("block", "message"), [
    ({"retry": -1}, "retry must be between 0 and 100"),
    ({"retry": {"limit": 2, "every": 3}}, "retry must be {limit"),
    ({"retry": {"limit": 2, "interval_type": "linear"}}, "interval_type must be constant or exponential"),
    ({"error": {"message": "x"}}, "error must be a Digdag task"),
    ({"sla": {"+t": {"echo>": "x"}}}, "sla needs exactly one of time"),
    ({"sla": {"time": 230}}, "sla.time must be a quoted HH:MM"),
    ({"export": {"gen_runner": "local"}}, "not a parameter name of yours"),
])
def test_bad_blocks_are_refused_naming_where(tmp_path: Path, block: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(GenError, match=message) as err:
        plan(tmp_path, block, node("a"))
    assert "gen.yml" in str(err.value)
    with pytest.raises(GenError, match=message) as err:
        plan(tmp_path, {}, node("a", meta=block))
    assert "meta.digdag" in str(err.value) and "models/a.sql" in str(err.value)


def test_blocks_layer_defaults_rules_and_meta(tmp_path: Path) -> None:
    config = {"retry": 1, "export": {"team": "data"},
              "rules": [{"match": {"tag": "critical"}, "retry": 3, "error": {"mail>": {"data": "x"}}}]}
    found = plan(tmp_path, config, node("a"), node("b", tags=("critical",)),
                 node("c", tags=("critical",), meta={"retry": 0, "export": {"team": "finance"}}))
    assert found["a"].blocks == {"retry": 1, "export": {"team": "data"}}
    assert found["b"].blocks == {"retry": 3, "export": {"team": "data"}, "error": {"mail>": {"data": "x"}}}
    assert found["c"].blocks["retry"] == 0 and found["c"].blocks["export"] == {"team": "finance"}


def test_one_workflows_nodes_must_agree_on_blocks(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError, match="set different blocks"):
        plan(tmp_path, {}, node("a", meta={"workflow": "g", "retry": 1}), node("b", meta={"workflow": "g"}))
