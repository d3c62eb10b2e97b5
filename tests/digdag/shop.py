"""The bundled example on a real `digdag server --memory` with the local runner on DuckDB: what the
day-by-day and the backfill tests share.

DuckDB takes one writer at a time, so dbt runs here one at a time (GEN_DBT is dbt behind flock); a
warehouse needs no such lock."""

from __future__ import annotations

import contextlib
import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from tests.conftest import EXAMPLE, REPO
from tests.digdag.conftest import digdag_env, start_server


def call(url: str, method: str = "GET", body: Any = None, content_type: str = "application/json") -> Any:
    """One request to the server's REST API; JSON in and out."""
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def tables(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every base table of the DuckDB file, rows sorted."""
    with duckdb.connect(str(db), read_only=True) as con:
        names = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                           "where table_type = 'BASE TABLE' order by 1").fetchall()]
        return {n: con.execute(f'select * from main."{n}" order by all').fetchall() for n in names}


@contextlib.contextmanager
def shop_server(tmp: Path, *, fail_when: str = "") -> Iterator[tuple[str, Path, Path, dict[str, str]]]:
    """A copy of the example's dbt project and a server whose local runner writes to a fresh DuckDB file:
    yields (server URL, dbt project, DuckDB file, environment). With `fail_when`, dbt fails for a select
    list holding that text while the file <tmp>/fail exists (a failure injected into one workflow)."""
    dbt_project = tmp / "shop"
    shutil.copytree(EXAMPLE, dbt_project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    db = tmp / "shop.duckdb"
    dbt = tmp / "dbt-one-at-a-time"
    inject = (f'case "$*" in *{fail_when}*) if [ -e {tmp / "fail"} ]; then '
              'echo "injected failure" >&2; exit 1; fi;; esac\n') if fail_when else ""
    dbt.write_text(f'#!/bin/sh\n{inject}exec flock {tmp / "dbt.lock"} {REPO / ".venv" / "bin" / "dbt"} "$@"\n')
    dbt.chmod(0o755)
    env = digdag_env(tmp) | {"SHOP_DUCKDB_PATH": str(db), "GEN_DBT": str(dbt)}
    with start_server(tmp, env) as url:
        yield url, dbt_project, db, env
