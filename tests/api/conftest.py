"""Fixtures for the API tests: the API in-process (fast), or served by uvicorn in a subprocess (for the
event stream, the CLI and the fuzzer), each on the `env` fixture's fresh database and Redis."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Processes, free_port, wait_for
from tests.projects import react_project, zip_folder

PASSWORD = "password123"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_up(client: httpx.Client | TestClient, username: str) -> str:
    """Register through the API; returns the bearer token."""
    response = client.post("/api/auth/register", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def upload_zip(client, token: str, archive: Path, name: str = "Site", priority: int | None = None) -> dict:
    data = {"name": name, **({"priority": str(priority)} if priority is not None else {})}
    with open(archive, "rb") as stream:
        response = client.post(
            "/api/website-builder/upload", headers=auth(token), data=data, files={"files": (archive.name, stream, "application/zip")}
        )
    assert response.status_code == 202, response.text
    return response.json()


def run(coroutine):
    return asyncio.run(coroutine)


def tab_headers(token: str | None) -> dict[str, str]:
    """The headers a tab's events carry when its socket's handshake sent the session cookie `token`
    (what webbuilder_app/socket_guard.py hands Reflex)."""
    from webbuilder_app.socket_guard import SESSION_HEADER
    from workers.services import auth

    session_id = auth.session_id_for_token(token)
    return {SESSION_HEADER: str(session_id)} if session_id else {}


async def states_signed_in_as(token: str):
    """A fresh state tree for one browser tab signed in with the session token `token` (as its
    cookie): the Reflex app's event handlers run on it as `Handler.fn(state, ...)`."""
    from reflex.istate.data import RouterData
    from reflex.state import State

    root = State()
    root.router = RouterData.from_router_data({"pathname": "/", "asPath": "/", "headers": tab_headers(token)})
    return root


def event_args(spec) -> dict:
    """The arguments of an event a handler returned for the browser (rx.redirect, rx.download, ...)."""
    return {str(name): value._var_value for name, value in spec.args}


def on_page(root, path: str) -> None:
    """Put the tab on `path` (with its query), as a navigation does before the page's on_load."""
    from reflex.istate.data import RouterData

    root.router = RouterData.from_router_data(
        {"pathname": path.split("?")[0], "asPath": path, "headers": dict(root.router.headers.raw_headers)}
    )


@pytest.fixture
def api(env) -> Iterator[TestClient]:
    from webbuilder_app.api.app import create_api

    with TestClient(create_api()) as client:
        yield client


def distinct_app(label: str) -> str:
    """An App.tsx of its own, so the build cache does not answer one upload with another's build."""
    return f"export function App() {{\n  return <h1>{label}</h1>\n}}\n"


@pytest.fixture
def make_zip(tmp_path):
    """make_zip(label) -> a zip of the react-ts project whose page says `label`."""

    def make(label: str, **replace: str) -> Path:
        folder = react_project(tmp_path / label, **{"src/App.tsx": distinct_app(label), **replace})
        return zip_folder(folder, tmp_path / f"{label}.zip")

    return make


@pytest.fixture
def project_zip(make_zip) -> Path:
    return make_zip("project")


@dataclass
class LiveApi:
    url: str
    log: Path

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=auth(token) if token else {}, timeout=30)


@pytest.fixture
def live_api(env, processes: Processes, tmp_path) -> LiveApi:
    """create_api() served by uvicorn in its own process, like the app serves it, with 1 s heartbeats."""
    return serve_api(env, processes, tmp_path)


def serve_api(env: dict[str, str], processes: Processes, tmp_path: Path, log_name: str = "api.log",
              factory: str = "webbuilder_app.api.app:create_api") -> LiveApi:
    """One more such process (several: web processes sharing the database and Redis); with
    `factory="tests.api.site_server:create_app"` it serves the published sites too."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "--factory", factory,
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    processes.start(argv, {**env, "WEBBUILDER_SSE_HEARTBEAT_SECONDS": "1"}, log_name)
    live = LiveApi(f"http://127.0.0.1:{port}", tmp_path / log_name)

    def answers() -> bool:
        try:
            return httpx.get(f"{live.url}/api/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(answers, timeout=30, what="uvicorn to answer")
    return live
