"""The digdag_session dbt package, run for real with dbt-core on DuckDB in a copy of the example project:
window arithmetic, adapter literals, the missing-session error, parsing without a session time,
partial parsing across session times, and backfills that reproduce exactly one session's rows."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import copy_example, dbt_invoke

pytestmark = pytest.mark.dbt
DAY_1, DAY_2 = "2024-03-02T00:00:00+09:00", "2024-03-03T00:00:00+09:00"


def invoke(args: list[str], project: Path) -> Any:
    """Run dbt in-process and return its result, successful or not."""
    from dbt.cli.main import dbtRunner

    with contextlib.redirect_stdout(io.StringIO()):
        return dbtRunner().invoke([*args, "--project-dir", str(project), "--profiles-dir", str(project),
                                   "--quiet"])


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the example with its packages installed and a fresh DuckDB file; no session time set."""
    monkeypatch.delenv("DIGDAG_SESSION_TIME", raising=False)
    monkeypatch.setenv("SHOP_DUCKDB_PATH", str(tmp_path / "shop.duckdb"))
    project = copy_example(tmp_path)
    dbt_invoke(["deps"], project)
    return project


def compile_probe(project: Path, body: str, monkeypatch: pytest.MonkeyPatch, session: str) -> dict[str, str]:
    """Compile a model made of `name=<jinja>` lines with DIGDAG_SESSION_TIME=session; returns name -> SQL."""
    (project / "models" / "probe.sql").write_text(body, encoding="utf-8")
    monkeypatch.setenv("DIGDAG_SESSION_TIME", session)
    dbt_invoke(["compile", "--select", "probe"], project)
    text = (project / "target" / "compiled" / "shop" / "models" / "probe.sql").read_text(encoding="utf-8")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


# name={{ start }} {{ end }} of one window (the probe model's lines); `d` is the digdag_session package.
WINDOWS = "{% set d = digdag_session %}\n" + "".join(
    f"{name}={{{{ d.digdag_session_start({args}) }}}} {{{{ d.digdag_session_end({args}) }}}}\n"
    for name, args in [("hour", "'hour'"), ("day", "'day'"), ("day_utc", "'day', tz='UTC'"),
                       ("prev", "'daily', window='previous'"), ("week", "'week'"), ("month", "'month'"),
                       ("ny", "'day', tz='America/New_York'")]) + """\
local={{ d.digdag_session_start('day', local=true) }}
date={{ d.digdag_session_date() }} {{ d.digdag_session_date(tz='UTC') }}
ts={{ d.digdag_session_timestamp() }}
filter={{ d.digdag_window_filter('t.ts', 'hour') }}
"""


def test_windows_compile_to_constant_literals(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    got = compile_probe(shop, WINDOWS, monkeypatch, "2024-03-10T05:30:00+09:00")
    assert got == {
        "hour": "timestamp '2024-03-09 20:00:00' timestamp '2024-03-09 21:00:00'",
        "day": "timestamp '2024-03-09 15:00:00' timestamp '2024-03-10 15:00:00'",
        "day_utc": "timestamp '2024-03-09 00:00:00' timestamp '2024-03-10 00:00:00'",
        "prev": "timestamp '2024-03-08 15:00:00' timestamp '2024-03-09 15:00:00'",
        "week": "timestamp '2024-03-09 15:00:00' timestamp '2024-03-16 15:00:00'",
        "month": "timestamp '2024-02-29 15:00:00' timestamp '2024-03-31 15:00:00'",
        "local": "timestamp '2024-03-10 00:00:00'",
        "date": "date '2024-03-10' date '2024-03-09'",
        "ts": "timestamp '2024-03-09 20:30:00'",
        "filter": "(t.ts >= timestamp '2024-03-09 20:00:00' and t.ts < timestamp '2024-03-09 21:00:00')",
        "ny": "timestamp '2024-03-09 05:00:00' timestamp '2024-03-10 05:00:00'",
    }
    # 2024-03-10 in New York has 23 hours (daylight saving time starts at 02:00)
    got = compile_probe(shop, WINDOWS, monkeypatch, "2024-03-10T00:00:00-05:00")
    assert got["ny"] == "timestamp '2024-03-10 05:00:00' timestamp '2024-03-11 04:00:00'"
    assert got["day"] == "timestamp '2024-03-10 05:00:00' timestamp '2024-03-11 05:00:00'"  # fixed -05:00


def test_session_time_formats_and_var_precedence(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = "ts={{ digdag_session.digdag_session_timestamp() }}\n"
    midnight = "timestamp '2024-03-02 00:00:00'"
    assert compile_probe(shop, body, monkeypatch, "2024-03-02T00:00:00Z")["ts"] == midnight
    assert compile_probe(shop, body, monkeypatch, "2024-03-02T09:00:00+0900")["ts"] == midnight
    monkeypatch.setenv("DIGDAG_SESSION_TIME", "2024-03-02T00:00:00+00:00")
    dbt_invoke(["compile", "--select", "probe", "--vars",
                json.dumps({"digdag_session_time": "2024-05-01T12:00:00Z"})], shop)
    compiled = (shop / "target" / "compiled" / "shop" / "models" / "probe.sql").read_text(encoding="utf-8")
    assert compiled.strip() == "ts=timestamp '2024-05-01 12:00:00'"


ADAPTERS = ("default", "duckdb", "postgres", "redshift", "snowflake", "bigquery", "trino", "athena", "spark",
            "databricks")


def test_every_adapter_has_its_literals(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = "{% set d = digdag_session %}{% set dt = modules.datetime %}\n" + "".join(
        f"{a}={{{{ d.{a}__digdag_timestamp_literal(dt.datetime(2024, 3, 1, 15), true) }}}}"
        f" | {{{{ d.{a}__digdag_timestamp_literal(dt.datetime(2024, 3, 2), false) }}}}"
        f" | {{{{ d.{a}__digdag_date_literal(dt.date(2024, 3, 2)) }}}}\n"
        for a in ADAPTERS)
    got = compile_probe(shop, body, monkeypatch, DAY_1)
    assert got == {
        "default": "cast('2024-03-01 15:00:00' as timestamp) | cast('2024-03-02 00:00:00' as timestamp) | "
                   "date '2024-03-02'",
        "duckdb": "timestamp '2024-03-01 15:00:00' | timestamp '2024-03-02 00:00:00' | date '2024-03-02'",
        "postgres": "'2024-03-01 15:00:00'::timestamp | '2024-03-02 00:00:00'::timestamp | "
                    "'2024-03-02'::date",
        "redshift": "'2024-03-01 15:00:00'::timestamp | '2024-03-02 00:00:00'::timestamp | "
                    "'2024-03-02'::date",
        "snowflake": "'2024-03-01 15:00:00'::timestamp_ntz | '2024-03-02 00:00:00'::timestamp_ntz | "
                     "'2024-03-02'::date",
        "bigquery": "timestamp '2024-03-01 15:00:00+00:00' | datetime '2024-03-02 00:00:00' | "
                    "date '2024-03-02'",
        "trino": "timestamp '2024-03-01 15:00:00' | timestamp '2024-03-02 00:00:00' | date '2024-03-02'",
        "athena": "timestamp '2024-03-01 15:00:00' | timestamp '2024-03-02 00:00:00' | date '2024-03-02'",
        "spark": "timestamp '2024-03-01 15:00:00+00:00' | cast('2024-03-02 00:00:00' as timestamp_ntz) | "
                 "date '2024-03-02'",
        "databricks": "timestamp '2024-03-01 15:00:00+00:00' | "
                      "cast('2024-03-02 00:00:00' as timestamp_ntz) | date '2024-03-02'",
    }


def test_parse_needs_no_session_time_and_a_run_without_one_fails_clearly(shop: Path) -> None:
    assert invoke(["parse"], shop).success
    assert invoke(["seed"], shop).success
    result = invoke(["run", "--select", "+fct_daily_orders"], shop)
    assert not result.success
    [failed] = [r for r in result.result.results if r.status == "error"]
    assert failed.node.name == "fct_daily_orders"
    assert "digdag_session: no Digdag session time (models/marts/fct_daily_orders.sql)" in failed.message
    assert "DIGDAG_SESSION_TIME=2024-03-02T00:00:00+09:00" in failed.message


def test_a_new_session_time_keeps_partial_parsing_only_in_env_mode(shop: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    log = shop / "logs" / "dbt.log"

    def parse(*extra: str) -> str:
        before = log.stat().st_size if log.exists() else 0
        dbt_invoke(["parse", *extra], shop)
        with open(log, encoding="utf-8") as handle:
            handle.seek(before)
            return handle.read()

    parse()  # what the image ships: target/partial_parse.msgpack without any session time
    for session in (DAY_1, DAY_2):
        monkeypatch.setenv("DIGDAG_SESSION_TIME", session)
        assert "Unable to do partial parsing" not in parse()
    monkeypatch.delenv("DIGDAG_SESSION_TIME")
    text = parse("--vars", json.dumps({"digdag_session_time": DAY_1}))
    assert ("Unable to do partial parsing because config vars, config profile, or config target have changed"
            in text)


# --- backfills -------------------------------------------------------------------------------------


def run_session(project: Path, model: str, session: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dbt run` of one model for one session, passing the session time as run-dbt.sh does in `mode`."""
    if mode == "env":
        monkeypatch.setenv("DIGDAG_SESSION_TIME", session)
        dbt_invoke(["run", "--select", model], project)
    else:
        monkeypatch.delenv("DIGDAG_SESSION_TIME", raising=False)
        dbt_invoke(["run", "--select", model, "--vars", json.dumps({"digdag_session_time": session})],
                   project)


def table(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db)) as con:  # dbt-duckdb, in this process, may hold the file open
        return con.execute(sql).fetchall()


def expected_orders(project: Path, start: str, end: str) -> list[tuple[Any, ...]]:
    """The orders.csv rows whose ordered_at (UTC) lies in [start, end), as the model should hold them."""
    with open(project / "data" / "orders.csv", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if start <= r["ordered_at"] < end]
    return sorted((int(r["order_id"]), int(r["customer_id"]), r["ordered_at"], r["status"],
                   Decimal(r["amount"])) for r in rows)


@pytest.mark.parametrize("mode", ["env", "vars"])
def test_backfilled_day_reproduces_its_rows_and_touches_no_other_day(shop: Path, tmp_path: Path, mode: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "shop.duckdb"
    dbt_invoke(["run", "--select", "stg_orders"], shop)
    day = ("select order_id, customer_id, strftime(ordered_at, '%Y-%m-%d %H:%M:%S'), status, amount "
           "from main.fct_daily_orders where session_date = '{}' order by all")
    run_session(shop, "fct_daily_orders", DAY_1, mode, monkeypatch)
    first = table(db, day.format("2024-03-02"))
    assert first == expected_orders(shop, "2024-03-01 15:00:00", "2024-03-02 15:00:00") and first
    run_session(shop, "fct_daily_orders", DAY_2, mode, monkeypatch)
    second = table(db, day.format("2024-03-03"))
    assert second == expected_orders(shop, "2024-03-02 15:00:00", "2024-03-03 15:00:00") and second
    everything = table(db, "select * from main.fct_daily_orders order by all")

    run_session(shop, "fct_daily_orders", DAY_1, mode, monkeypatch)  # backfill, same source data
    assert table(db, "select * from main.fct_daily_orders order by all") == everything

    # The source changes on both days (amounts doubled, one order of day 1 deleted); a backfill of
    # day 1 picks up exactly day 1's changes and leaves day 2 as it was loaded.
    orders = shop / "data" / "orders.csv"
    lines = orders.read_text(encoding="utf-8").splitlines()
    dropped = first[0][0]
    rows = [line.split(",") for line in lines[1:]]
    changed = [lines[0]] + [",".join([*r[:4], f"{Decimal(r[4]) * 2}"]) for r in rows if int(r[0]) != dropped]
    orders.write_text("\n".join(changed) + "\n", encoding="utf-8")
    run_session(shop, "fct_daily_orders", DAY_1, mode, monkeypatch)
    again = table(db, day.format("2024-03-02"))
    assert again == expected_orders(shop, "2024-03-01 15:00:00", "2024-03-02 15:00:00")
    assert len(again) == len(first) - 1
    assert all(a[4] == 2 * f[4] for a, f in zip(again, first[1:], strict=True))
    assert table(db, day.format("2024-03-03")) == second
    dates = table(db, "select distinct session_date from main.fct_daily_orders")
    assert {r[0].isoformat() for r in dates} == {"2024-03-02", "2024-03-03"}


def test_backfilled_hour_reproduces_its_rows(shop: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "shop.duckdb"
    dbt_invoke(["seed"], shop)
    dbt_invoke(["run", "--select", "stg_events", "stg_customers"], shop)
    hours = ("2024-03-01T09:00:00+00:00", "2024-03-01T10:00:00+00:00")
    for hour in hours:
        run_session(shop, "fct_hourly_events", hour, "env", monkeypatch)
    loaded = table(db, "select * from main.fct_hourly_events order by all")
    assert {r[0].isoformat() for r in loaded} == {"2024-03-01T09:00:00", "2024-03-01T10:00:00"}
    run_session(shop, "fct_hourly_events", hours[0], "env", monkeypatch)
    assert table(db, "select * from main.fct_hourly_events order by all") == loaded
