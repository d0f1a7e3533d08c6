"""Hardening around the edges: a private data folder and database file, a Valkey that wants its
password, /metrics for admins and allowed addresses only, and the app's security headers (not on
the published sites). The whole app's answers are checked in tests/e2e/test_hardening.py."""

from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse

from tests.api.conftest import PASSWORD, auth, sign_up
from tests.conftest import TEST_REDIS_URL
from tests.helpers import make_user
from webbuilder_app.api.app import create_api
from webbuilder_app.previews import with_previews
from webbuilder_app.security_headers import with_security_headers
from workers.accounts import users as accounts
from workers.config import settings
from workers.runtime.supervise import EmbeddedValkey, child_env, prepare_data_dir, valkey_password, web_env
from workers.store import db
from workers.store.db import session_scope


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- files -----------------------------------------------------------------------------------------

def test_the_data_folder_is_made_private_even_if_it_existed(tmp_path):
    fresh, old = tmp_path / "new" / "data", tmp_path / "old"
    old.mkdir(mode=0o755)
    old.chmod(0o755)
    prepare_data_dir(fresh)
    prepare_data_dir(old)
    assert (mode(fresh), mode(old)) == (0o700, 0o700)


def test_the_sqlite_database_and_its_journal_files_are_0600(env):
    with session_scope() as session:  # a write: SQLite makes its -wal and -shm
        accounts.register(session, "alice", PASSWORD)
    database = settings().data_dir / "webbuilder.db"
    files = [database, database.with_name("webbuilder.db-wal"), database.with_name("webbuilder.db-shm")]
    assert [mode(path) for path in files] == [0o600] * 3


def test_a_database_file_made_before_is_made_private(tmp_path):
    database = tmp_path / "legacy.db"
    for path in (database, tmp_path / "legacy.db-wal"):
        path.touch(mode=0o644)
        path.chmod(0o644)
    db._engine_for(f"sqlite:///{database}").dispose()
    assert mode(database) == mode(tmp_path / "legacy.db-wal") == 0o600


def test_reflex_keeps_tab_states_in_the_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("WEBBUILDER_DATA_DIR", str(tmp_path / "data"))
    env = web_env(child_env("redis://example:6379/0"))
    assert env["REFLEX_STATES_WORKDIR"] == str(tmp_path / "data" / "reflex-states")


# --- the embedded Valkey ------------------------------------------------------------------------------

@pytest.fixture
def valkey(tmp_path):
    server = EmbeddedValkey(valkey_password(tmp_path))
    yield server
    server.stop()


def test_the_embedded_valkey_refuses_clients_without_its_password(valkey, tmp_path):
    password_file = tmp_path / "valkey-password"
    assert mode(password_file) == 0o600 and password_file.read_text() == valkey.password
    assert valkey_password(tmp_path) == valkey.password  # generated once, kept

    with redis.Redis.from_url(valkey.url) as client:
        client.set("kept", "yes")
        assert client.get("kept") == b"yes"
    with redis.Redis(host="127.0.0.1", port=valkey.port) as stranger:
        assert stranger.ping()  # the server's liveness check, and nothing more
        for command in (lambda: stranger.get("kept"), lambda: stranger.set("x", "1"), lambda: stranger.publish("c", "m"),
                        lambda: stranger.keys("*"), lambda: stranger.config_get("requirepass")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                command()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=valkey.port, username="webbuilder", password="guess").get("kept")


def test_restarted_valkey_wants_the_same_password(valkey):
    valkey.server.terminate()
    for _ in range(valkey.FAILED_CHECKS_BEFORE_RESTART):
        valkey.keep_alive()
    with redis.Redis.from_url(valkey.url) as client:
        assert client.ping() and client.set("after", "restart")
    with redis.Redis(host="127.0.0.1", port=valkey.port) as stranger, pytest.raises(redis.exceptions.NoPermissionError):
        stranger.get("after")


@pytest.mark.skipif(bool(TEST_REDIS_URL), reason="the suite runs on a Redis server of its own")
def test_the_suite_talks_to_valkey_with_the_password_like_every_client(redis_url):
    address = urlsplit(redis_url)  # every client of the app and the workers is built from this URL
    assert address.username == "webbuilder" and address.password
    with redis.Redis(host=address.hostname, port=address.port) as stranger, pytest.raises(redis.exceptions.NoPermissionError):
        stranger.xread({"webbuilder:events:user:1": "0-0"})


# --- /metrics -------------------------------------------------------------------------------------

def metrics_from(address: str, **headers: str):
    with TestClient(create_api(), client=(address, 40000)) as client:
        return client.get("/metrics", headers=headers)


def test_metrics_answer_admins_only(api):
    anonymous = api.get("/metrics")
    assert anonymous.status_code == 401 and "WEBBUILDER_METRICS_ALLOW" in anonymous.json()["message"]
    user = sign_up(api, "alice")
    refused = api.get("/metrics", headers=auth(user))
    assert refused.status_code == 403 and refused.json()["message"] == "Metrics are for admins only."
    assert api.get("/metrics", headers=auth("not-a-token")).status_code == 401

    make_user("root", admin=True)
    admin = api.post("/api/auth/login", json={"username": "root", "password": PASSWORD}).json()["token"]
    allowed = api.get("/metrics", headers=auth(admin))
    assert allowed.status_code == 200 and "webbuilder_queue_depth" in allowed.text


def test_metrics_answer_allowed_addresses_without_a_token(env, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_METRICS_ALLOW", "127.0.0.1, 10.1.0.0/16")
    assert metrics_from("127.0.0.1").status_code == 200
    assert metrics_from("10.1.2.3").status_code == 200
    assert metrics_from("192.0.2.7").status_code == 401
    assert metrics_from("192.0.2.7", **{"X-Forwarded-For": "10.1.2.3"}).status_code == 401  # from no proxy of ours

    # Behind a trusted proxy the forwarded client counts, not the proxy's own address.
    monkeypatch.setenv("WEBBUILDER_TRUSTED_PROXIES", "127.0.0.1")
    monkeypatch.setenv("WEBBUILDER_METRICS_ALLOW", "10.1.0.0/16")
    assert metrics_from("127.0.0.1", **{"X-Forwarded-For": "10.1.2.3"}).status_code == 200
    assert metrics_from("127.0.0.1", **{"X-Forwarded-For": "203.0.113.9"}).status_code == 401


# --- security headers ----------------------------------------------------------------------------------

def test_the_app_sends_security_headers_and_the_published_sites_do_not(env):
    site = settings().sites_dir / ("a" * 20)
    site.mkdir(parents=True)
    (site / "index.html").write_text("<h1>a user's site</h1>")
    wrapped = with_previews(with_security_headers(create_api()))  # their order in webbuilder_app.py
    with TestClient(wrapped) as client:
        app_answer = client.get("/api/health")
        site_answer = client.get("/", headers={"Host": f"{'a' * 20}.localhost"})
    assert app_answer.headers["content-security-policy"] == "frame-ancestors 'self'"
    assert app_answer.headers["x-content-type-options"] == "nosniff"
    assert site_answer.status_code == 200 and "a user's site" in site_answer.text
    assert "content-security-policy" not in site_answer.headers and "x-content-type-options" not in site_answer.headers


def test_the_headers_replace_any_the_app_set_itself():
    async def inner(scope, receive, send):
        response = PlainTextResponse("x", headers={"Content-Security-Policy": "frame-ancestors *", "X-Other": "kept"})
        await response(scope, receive, send)

    answer = TestClient(with_security_headers(inner)).get("/")  # no lifespan: `inner` answers HTTP only
    assert answer.headers.get_list("content-security-policy") == ["frame-ancestors 'self'"]
    assert answer.headers["x-other"] == "kept" and answer.headers["x-content-type-options"] == "nosniff"
