"""Push a generated project (out/) to a Digdag server through its REST API.

The archive is built from out/ in sorted order with fixed metadata, so the same files give the same
bytes. Credentials come only from the environment (DIGDAG_TOKEN as a bearer token, or
DIGDAG_AUTH_HEADER as one full `Name: value` header), never from flags, and are never printed.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import ssl
import subprocess
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gen.errors import PushError

_SKIP = frozenset({".digdag", ".git", ".DS_Store"})


@dataclass(frozen=True, slots=True)
class ScheduleInfo:
    """One schedule as the server holds it after the push."""

    workflow: str
    next_run_time: str
    next_session_time: str


@dataclass(frozen=True, slots=True)
class PushResult:
    """What the server holds now."""

    project: str
    project_id: str
    revision: str
    workflows: tuple[str, ...]
    schedules: tuple[ScheduleInfo, ...]


def archive(out: Path) -> bytes:
    """A deterministic tar.gz of every file in out/ (what `digdag push` would upload)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for path in sorted(out.rglob("*")):
            rel = path.relative_to(out)
            if any(part in _SKIP for part in rel.parts) or path.is_dir():
                continue
            if path.is_symlink():
                raise PushError(f"{rel} is a symlink; refusing to upload it", source=str(out))
            info = tarfile.TarInfo(rel.as_posix())
            data = path.read_bytes()
            info.size = len(data)
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def git_revision(project_dir: Path) -> str | None:
    """The dbt project's git commit (with -dirty when the work tree has changes), if it is a checkout."""
    try:
        head = subprocess.run(["git", "-C", str(project_dir), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, timeout=30, check=False)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(project_dir), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


class Client:
    """A small Digdag REST client."""

    def __init__(self, endpoint: str, *, headers: dict[str, str] | None = None, insecure: bool = False,
                 timeout: float = 60.0) -> None:
        parsed = urllib.parse.urlparse(endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise PushError(f"endpoint must be an http:// or https:// URL, got {endpoint!r}")
        self.endpoint = endpoint.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.context = ssl._create_unverified_context() if insecure else None

    def call(self, method: str, path: str, *, query: dict[str, str] | None = None, body: bytes | None = None,
             content_type: str | None = None) -> Any:
        """One request; JSON in, JSON out; server errors carry the server's message."""
        return self.request(method, path, query=query, body=body, content_type=content_type)[1]

    def request(self, method: str, path: str, *, query: dict[str, str] | None = None, body: bytes | None = None,
                content_type: str | None = None, accept: frozenset[int] = frozenset()) -> tuple[int, Any]:
        """One request: (status, JSON answer). A status in `accept` is an answer, not an error (Digdag
        answers 409 with the attempt that holds a session)."""
        url = self.endpoint + path + ("?" + urllib.parse.urlencode(query) if query else "")
        request = urllib.request.Request(url, data=body, method=method, headers=dict(self.headers))
        if content_type:
            request.add_header("Content-Type", content_type)
        request.add_header("Accept", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            if e.code in accept:
                try:
                    return e.code, json.loads(e.read() or b"null")
                except (OSError, json.JSONDecodeError) as bad:
                    raise PushError(f"{method} {path}: the server's {e.code} answer is not JSON",
                                    source=self.endpoint) from bad
            raise PushError(f"{method} {path}: server answered {e.code}: {_server_message(e)}",
                            source=self.endpoint) from e
        except urllib.error.URLError as e:
            raise PushError(f"cannot reach the server: {e.reason}", source=self.endpoint) from e
        except (TimeoutError, OSError) as e:
            raise PushError(f"cannot reach the server: {e}", source=self.endpoint) from e
        except json.JSONDecodeError as e:
            raise PushError(f"{method} {path}: the server's answer is not JSON", source=self.endpoint) from e


def _server_message(error: urllib.error.HTTPError) -> str:
    try:
        raw = error.read().decode("utf-8", "replace")
    except OSError:
        return error.reason or "no message"
    try:
        data = json.loads(raw)
        if isinstance(data, dict) and data.get("message"):
            # One line, and without the server's temporary upload folder in front of file names.
            text = re.sub(r"\S*/push/[^/\s]+/", "", str(data["message"]))
            return " ".join(text.split())[:1000]
    except json.JSONDecodeError:
        pass
    return " ".join(raw.split())[:300] or str(error.reason)


def auth_headers(environ: dict[str, str]) -> dict[str, str]:
    """Headers from DIGDAG_TOKEN / DIGDAG_AUTH_HEADER."""
    headers: dict[str, str] = {}
    token = environ.get("DIGDAG_TOKEN", "").strip()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    line = environ.get("DIGDAG_AUTH_HEADER", "").strip()
    if line:
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or "\n" in line:
            raise PushError("DIGDAG_AUTH_HEADER must look like `Name: value`")
        headers[name.strip()] = value.strip()
    return headers


def push_project(client: Client, out: Path, *, project: str, revision: str,
                 schedule_from: str | None = None) -> PushResult:
    """Upload out/ as a new revision of the project and read back its workflows and schedules."""
    query = {"project": project, "revision": revision}
    if schedule_from:
        query["schedule_from"] = schedule_from
    stored = client.call("PUT", "/api/projects", query=query, body=archive(out), content_type="application/gzip")
    project_id = str(stored.get("id", ""))
    workflows = client.call("GET", f"/api/projects/{project_id}/workflows").get("workflows", [])
    schedules = client.call("GET", f"/api/projects/{project_id}/schedules").get("schedules", [])
    return PushResult(
        project=str(stored.get("name", project)), project_id=project_id, revision=str(stored.get("revision", "")),
        workflows=tuple(sorted(str(w.get("name")) for w in workflows)),
        schedules=tuple(sorted(
            (ScheduleInfo(workflow=str(s.get("workflow", {}).get("name")), next_run_time=str(s.get("nextRunTime")),
                          next_session_time=str(s.get("nextScheduleTime")))
             for s in schedules if not s.get("disabledAt")), key=lambda s: s.workflow)))
