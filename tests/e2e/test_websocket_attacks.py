"""The websocket as an attacker uses it: a Socket.IO client (python-socketio over websocket-client)
that calls every event handler of every state of the app, Reflex's built-ins included, with the
victim's ids in every id-like parameter and the victim's job page as its path, once with no account
and once signed in as a stranger. Nothing of the victim's (site name, preview address, log lines,
notification text, webhook URL, token name) may come back in any frame.

Sign-in and sign-up are handlers a stranger may call, and do: with the victim's name and a wrong
password they answer "wrong username or password" and "taken".
"""

from __future__ import annotations

import inspect
import json
import re
import threading
import time
import uuid

import pytest
import socketio

from tests.conftest import wait_for
from tests.e2e.conftest import RunningApp
from tests.projects import publish_js, scripted_project, zip_folder

pytestmark = pytest.mark.e2e
PASSWORD = "password123"
NAMESPACE = "/_event"  # Reflex's Socket.IO namespace, on its path
# Handlers that end the caller's own session go last, so the stranger stays signed in for the rest.
SESSION_ENDING = ("logout", "end_everywhere", "end_session", "change_password")
# An event whose echo marks the ones before it as processed: the upload form's name field.
MARKER_EVENT = "reflex___state____state.webbuilder_app___state___upload____upload_state.set_site_name"


class Tab:
    """One attacker's tab: a socket with a client token of the frontend's shape, and every frame the
    server sent it."""

    def __init__(self, app: RunningApp, cookie: str | None = None, token: str | None = None, headers: dict | None = None):
        self.frames: list[str] = []
        self.calls = 0
        self._seen = threading.Condition()
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._record, namespace=NAMESPACE)
        # websocket-client sends the Origin of the URL, the app's own (a published site's would be refused)
        headers = {**({"Cookie": f"webbuilder_session={cookie}"} if cookie else {}), **(headers or {})}
        self.client.connect(f"{app.url}?token={token or uuid.uuid4()}", headers=headers, transports=["websocket"],
                            socketio_path="_event", namespaces=[NAMESPACE], wait_timeout=10)

    def _record(self, event: str, data=None) -> None:
        with self._seen:
            self.frames.append(json.dumps([event, data], default=str))
            self._seen.notify_all()

    def _emit(self, name: str, payload: dict, path: str) -> None:
        router = {"pathname": path.split("?")[0], "asPath": path, "query": dict(re.findall(r"(\w+)=(\w+)", path))}
        self.client.emit("event", {"name": name, "payload": payload, "router_data": router}, namespace=NAMESPACE)

    def call(self, name: str, payload: dict, path: str = "/") -> None:
        """Send one event, then a marker event behind it; the tab's events run in order, so the
        marker's echo means the first one was processed."""
        self.calls += 1
        marker = f"processed-{self.calls}-{uuid.uuid4().hex[:6]}"
        self._emit(name, payload, path)
        self._emit(MARKER_EVENT, {"value": marker}, path)
        deadline = time.monotonic() + 10
        with self._seen:
            while not any(marker in frame for frame in self.frames[-5:]) and time.monotonic() < deadline:
                self._seen.wait(max(0.0, deadline - time.monotonic()))
        assert any(marker in frame for frame in self.text().splitlines()), f"{name} was not processed within 10 s"

    def text(self) -> str:
        with self._seen:
            return "\n".join(self.frames)

    def close(self) -> None:
        self.client.disconnect()


def every_handler() -> list[tuple[str, object]]:
    """(full event name, handler function) of every state class of the app and of Reflex."""
    from reflex.state import State

    import webbuilder_app.webbuilder_app  # noqa: F401  (registers every state)

    found, classes = [], [State]
    while classes:
        cls = classes.pop()
        classes.extend(cls.get_substates())
        found += [(f"{cls.get_full_name()}.{name}", handler.fn) for name, handler in cls.event_handlers.items()]
    return sorted(found, key=lambda item: (item[0].rsplit(".", 1)[1] in SESSION_ENDING, item[0]))


def payloads(fn, victim: dict) -> list[dict]:
    """Argument sets for a handler: each of the victim's ids in every id-like parameter, the victim's
    name in forms, a user id wherever a dict may carry one."""
    params = [p for p in inspect.signature(fn).parameters.values() if p.name != "self" and p.kind is not p.VAR_KEYWORD]
    if not params:
        return [{}]
    sets = []
    for victim_id in victim["ids"]:
        args = {}
        for param in params:
            annotation = str(param.annotation)
            if "dict" in annotation or param.name in ("form", "vars"):
                args[param.name] = {"username": victim["username"], "user_id": victim["user_id"], "job_id": victim_id,
                                    "name": "x", "url": "https://example.com/", "current_password": "x",
                                    "new_password": "y" * 12, "repeat_password": "y" * 12}
            elif "bool" in annotation:
                args[param.name] = True
            elif "list" in annotation:
                args[param.name] = [victim_id]
            elif "str" in annotation and "int" not in annotation:
                args[param.name] = str(victim_id)
            else:
                args[param.name] = victim_id
        sets.append(args)
    return sets


@pytest.fixture(scope="module")
def victim(app: RunningApp, tmp_path_factory) -> dict:
    """A user with a built site, notifications, a webhook and an API token, each marked."""
    mark = uuid.uuid4().hex[:10]
    api = app.api()
    registered = api.post("/api/auth/register", json={"username": f"victim-{mark}", "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    token, user_id = registered.json()["token"], registered.json()["user"]["id"]
    me = app.api(token)
    folder = tmp_path_factory.mktemp("victim")
    project = scripted_project(folder / "site", f"console.log('victim-log-{mark}')\n" + publish_js("'victim page'"))
    archive = zip_folder(project, folder / "site.zip")
    with open(archive, "rb") as stream:
        upload = me.post("/api/website-builder/upload", data={"name": f"Victim site {mark}"},
                         files={"files": ("site.zip", stream, "application/zip")})
    assert upload.status_code == 202, upload.text
    job_id = upload.json()["website"]["buildJobId"]
    wait_for(lambda: me.get(f"/api/website-builder/jobs/{job_id}").json()["status"] in ("completed", "failed"),
             timeout=120, what="the victim's build")
    job = me.get(f"/api/website-builder/jobs/{job_id}").json()
    assert job["status"] == "completed" and any(f"victim-log-{mark}" in line for line in job["logs"])
    hook = me.post("/api/website-builder/user/webhooks", json={"url": f"https://victim-hook-{mark}.example.com/"}).json()
    api_token = me.post("/api/auth/tokens", json={"name": f"victim-token-{mark}"}).json()
    note_id = me.get("/api/website-builder/user/notifications").json()["notifications"][0]["id"]
    session_id = next(s["id"] for s in me.get("/api/auth/sessions").json()["sessions"])
    slug = job["previewUrl"].split("//", 1)[1].split(".", 1)[0]
    return {
        "username": f"victim-{mark}", "user_id": user_id, "token": token, "job_id": job_id, "session_id": session_id,
        "ids": sorted({user_id, job_id, upload.json()["website"]["id"], hook["id"], api_token["id"], note_id, session_id}),
        "secrets": [f"Victim site {mark}", slug, f"victim-log-{mark}", f"victim-hook-{mark}", f"victim-token-{mark}"],
    }


def leaked(tab: Tab, victim: dict) -> list[str]:
    text = tab.text()
    return [secret for secret in victim["secrets"] if secret in text]


def attack(app: RunningApp, victim: dict, cookie: str | None) -> Tab:
    tab = Tab(app, cookie)
    for name, fn in every_handler():
        for args in payloads(fn, victim):
            tab.call(name, args, f"/jobs/{victim['job_id']}?retry=1")
    return tab


def test_the_victims_own_tab_sees_their_data(app, victim):
    """The control: the same client with the victim's cookie does get the secrets back, so the
    leak check below can fail."""
    tab = Tab(app, victim["token"])
    try:
        queue_link = next(name for name, _ in every_handler() if name.endswith("queue_feed_state.link"))
        tab.call(queue_link, {}, "/")
        job_load = next(name for name, _ in every_handler() if name.endswith("___job____job_state.load"))
        tab.call(job_load, {}, f"/jobs/{victim['job_id']}")
        assert set(leaked(tab, victim)) >= {victim["secrets"][0], victim["secrets"][1], victim["secrets"][2]}
    finally:
        tab.close()


def test_no_handler_gives_an_anonymous_client_anything_of_the_victims(app, victim):
    tab = attack(app, victim, cookie=None)
    try:
        assert leaked(tab, victim) == []
    finally:
        tab.close()
    assert app.api(victim["token"]).get(f"/api/website-builder/jobs/{victim['job_id']}").json()["status"] == "completed"


def test_no_handler_gives_a_signed_in_stranger_anything_of_the_victims(app, victim):
    registered = app.api().post("/api/auth/register", json={"username": f"stranger-{uuid.uuid4().hex[:8]}", "password": PASSWORD})
    stranger = registered.json()
    probe = Tab(app, stranger["token"])
    try:
        require_login = next(name for name, _ in every_handler() if name.endswith("auth_state.require_login"))
        probe.call(require_login, {}, "/")
        assert stranger["user"]["username"] in probe.text(), "the stranger's cookie signs the socket in"
    finally:
        probe.close()
    tab = attack(app, victim, cookie=stranger["token"])
    try:
        assert leaked(tab, victim) == []
    finally:
        tab.close()
    me = app.api(victim["token"])
    assert me.get("/api/auth/tokens").json()["tokens"], "the victim's API token survived"
    assert me.get("/api/website-builder/user/webhooks").json()["webhooks"], "the victim's webhook survived"
    assert me.get("/api/auth/sessions").json()["sessions"], "the victim is still signed in"


def test_a_socket_cannot_claim_a_token_of_another_shape(app, victim):
    """Reflex keys a tab's state by the socket's token: names of the old shared-state shape
    (`user<id>`, `job<id>`) or anything not shaped like the frontend's UUIDs are refused."""
    for token in (f"user{victim['user_id']}", f"job{victim['job_id']}", "x" * 36, f"{uuid.uuid4()}_extra"):
        with pytest.raises(socketio.exceptions.ConnectionError):
            Tab(app, token=token)
    Tab(app).close()  # the frontend's shape connects


def test_a_client_cannot_send_its_own_session_header(app, victim):
    """The guard replaces the header that names the session: sending it by hand signs nobody in."""
    tab = Tab(app, headers={"X-Webbuilder-Session": str(victim["session_id"])})
    try:
        queue_link = next(name for name, _ in every_handler() if name.endswith("queue_feed_state.link"))
        tab.call(queue_link, {}, "/")
        assert leaked(tab, victim) == []
    finally:
        tab.close()
