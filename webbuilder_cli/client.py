"""The HTTP API as Python calls, for the CLI (and any script)."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from webbuilder_cli.sse import SseEvent, parse_sse

BASE = "/api/website-builder"
SKIPPED_FOLDERS = {"node_modules", "dist", ".git"}  # rebuilt by the service, or not part of the source


class ApiError(Exception):
    """The server refused (its message), or could not be reached."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def zip_project(folder: Path) -> IO[bytes]:
    """Zip a project folder into a temporary file, leaving out node_modules, dist, .git and links."""
    spool = tempfile.TemporaryFile()
    with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if SKIPPED_FOLDERS & set(relative.parts) or path.is_symlink() or not path.is_file():
                continue
            archive.write(path, relative.as_posix())
    spool.seek(0)
    return spool


class ApiClient:
    def __init__(self, url: str, token: str, timeout: float = 60):
        self.url = url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=httpx.Timeout(timeout, connect=10)
        )

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiError(f"cannot reach {self.url}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiError(_message(response), response.status_code)
        return response

    def upload(self, path: Path, name: str, priority: int = 0, website_id: int | None = None, message: str | None = None,
               slug: str | None = None) -> dict:
        if path.is_dir():
            stream, filename = zip_project(path), f"{path.resolve().name or 'project'}.zip"
        elif path.is_file() and path.suffix.lower() == ".zip":
            stream, filename = open(path, "rb"), path.name
        else:
            raise ApiError(f"{path} is neither a folder nor a .zip file")
        with stream:
            files = {"files": (filename, stream, "application/zip")}
            fields = {"name": name, "priority": str(priority), "websiteId": website_id, "message": message, "slug": slug}
            data = {key: str(value) for key, value in fields.items() if value is not None}
            return self._call("POST", f"{BASE}/upload", data=data, files=files).json()

    def job(self, job_id: int) -> dict:
        return self._call("GET", f"{BASE}/jobs/{job_id}").json()

    def queue(self) -> dict:
        return self._call("GET", f"{BASE}/user/queue").json()

    def logs(self, job_id: int) -> str:
        return self._call("GET", f"{BASE}/jobs/{job_id}/logs").text

    def cancel(self, job_id: int) -> dict:
        return self._call("POST", f"{BASE}/jobs/{job_id}/cancel").json()

    def retry(self, job_id: int) -> dict:
        return self._call("POST", f"{BASE}/jobs/{job_id}/retry").json()

    def websites(self) -> list[dict]:
        return self._call("GET", f"{BASE}/websites").json()["websites"]

    def website_by_slug(self, slug: str) -> dict | None:
        """One of your websites by its current address, or None."""
        return next((site for site in self.websites() if site["slug"] == slug), None)

    def promote(self, website_id: int, job_id: int) -> dict:
        return self._call("POST", f"{BASE}/websites/{website_id}/deployments/{job_id}/promote").json()["website"]

    def rollback(self, website_id: int) -> dict:
        return self._call("POST", f"{BASE}/websites/{website_id}/rollback").json()["website"]

    @contextmanager
    def events(self, last_event_id: str | None = None) -> Iterator[Iterator[SseEvent | None]]:
        """The queue's event stream, resumed after `last_event_id` when given."""
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        try:
            with self.http.stream("GET", f"{BASE}/user/queue/stream", headers=headers, timeout=httpx.Timeout(60, connect=10)) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError(_message(response), response.status_code)
                yield parse_sse(response.iter_lines())
        except httpx.TransportError as exc:
            raise ApiError(f"lost the event stream from {self.url}: {exc}") from exc


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:200]}"
