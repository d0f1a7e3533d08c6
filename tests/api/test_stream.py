"""The SSE stream served by a real server process: latency, resume, several connections, isolation."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tests.api.conftest import auth, sign_up, upload_zip
from tests.api.streams import STREAM, StreamReader, job_event
from tests.conftest import wait_for

pytestmark = pytest.mark.integration
BASE = "/api/website-builder"


def test_events_arrive_within_a_second_on_every_connection(live_api, make_zip):
    api = live_api.client()
    token = sign_up(api, "alice")
    job_id = upload_zip(api, token, make_zip("site"))["website"]["buildJobId"]
    readers = [StreamReader(live_api, token), StreamReader(live_api, token)]
    try:
        for reader in readers:
            reader.next_event(lambda e: e.event == "ready")
        started = time.monotonic()
        assert api.post(f"{BASE}/jobs/{job_id}/cancel", headers=auth(token)).status_code == 200
        for reader in readers:
            arrived, event = reader.next_event(job_event(job_id, "cancelled"), timeout=5)
            assert arrived - started < 1.0, f"job_update took {arrived - started:.3f} s"
            assert event.data["job"]["currentStep"] == "cancelled" and event.id
            _, note = reader.next_event(lambda e: e.event == "notification")
            assert note.data["latest"]["title"] == "Build cancelled" and note.data["unreadCount"] == 2
    finally:
        for reader in readers:
            reader.close()


def test_last_event_id_replays_what_was_missed(live_api, make_zip):
    api = live_api.client()
    token = sign_up(api, "alice")
    first = upload_zip(api, token, make_zip("one"))["website"]["buildJobId"]
    reader = StreamReader(live_api, token)
    try:
        _, ready = reader.next_event(lambda e: e.event == "ready")
        api.post(f"{BASE}/jobs/{first}/cancel", headers=auth(token))
        _, seen = reader.next_event(job_event(first, "cancelled"))
    finally:
        reader.close()

    # While nobody listens: a retry and a new upload.
    retried = api.post(f"{BASE}/jobs/{first}/retry", headers=auth(token)).json()["jobId"]
    second = upload_zip(api, token, make_zip("two"))["website"]["buildJobId"]

    resumed = StreamReader(live_api, token, last_event_id=seen.id)
    try:
        _, event = resumed.next_event(job_event(retried, "queued"))
        _, event2 = resumed.next_event(job_event(second, "queued"))
        assert event.data["job"]["retryOf"] == first and event2.data["job"]["queuePosition"] == 2
    finally:
        resumed.close()


def test_heartbeats_keep_an_idle_stream_alive(live_api):
    api = live_api.client()
    token = sign_up(api, "alice")
    reader = StreamReader(live_api, token)
    try:
        reader.next_event(lambda e: e.event == "ready")
        assert reader.events_until_heartbeats(2, timeout=5) == []  # the server sends one per second here
        assert reader.status == 200
    finally:
        reader.close()


def test_another_users_changes_never_reach_a_stream(live_api, make_zip):
    api = live_api.client()
    alice, bob = sign_up(api, "alice"), sign_up(api, "bob")
    job_id = upload_zip(api, alice, make_zip("private"))["website"]["buildJobId"]
    alices, bobs = StreamReader(live_api, alice), StreamReader(live_api, bob)
    try:
        alices.next_event(lambda e: e.event == "ready")
        bobs.next_event(lambda e: e.event == "ready")
        api.post(f"{BASE}/jobs/{job_id}/cancel", headers=auth(alice))
        alices.next_event(job_event(job_id, "cancelled"))
        # Bob's stream goes on beating with nothing in it, after Alice's event was delivered.
        assert bobs.events_until_heartbeats(2, timeout=5) == []
    finally:
        alices.close()
        bobs.close()


def test_a_client_away_too_long_is_told_to_resync(live_api):
    from workers.store import events
    from workers.store.events import STREAM_MAXLEN

    api = live_api.client()
    registered = api.post("/api/auth/register", json={"username": "alice", "password": "password123"}).json()
    token, user_id = registered["token"], registered["user"]["id"]
    for _ in range(STREAM_MAXLEN + 300):  # older notices are trimmed away
        events.publish(events.Notice(events.Change.NOTIFICATION, user_id))
    reader = StreamReader(live_api, token, last_event_id="1-0")
    try:
        _, first = reader.next_event()
        assert first.event == "resync" and "re-read" in first.data["message"]
    finally:
        reader.close()


def test_stream_refusals(live_api):
    api = live_api.client()
    token = sign_up(api, "alice")
    assert api.get(STREAM).status_code == 401
    bad = api.get(STREAM, headers={**auth(token), "Last-Event-ID": "yesterday"})
    assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["message"]


def test_streams_waiting_for_the_same_entry_share_one_database_read(monkeypatch):
    from webbuilder_app.api import stream
    from workers.services import streams
    from workers.store.models import User

    reads, release = [], threading.Event()
    user = User(id=7, username="seven", password_hash="x")

    def slow_read(user: User, change: str, job_id: int | None) -> list:
        reads.append((user.id, change, job_id))
        release.wait(timeout=10)
        return [("notification", {"type": "notification", "unreadCount": len(reads)})]

    monkeypatch.setattr(streams, "payloads", slow_read)

    async def ten_tabs_and_a_newer_entry():
        tabs = [asyncio.create_task(stream.shared_payloads(user, "notification", None, "5-0")) for _ in range(10)]
        newer = asyncio.create_task(stream.shared_payloads(user, "notification", None, "6-0"))
        await asyncio.to_thread(wait_for, lambda: len(reads) == 2, 5, what="both reads to start")
        tabs[0].cancel()  # a tab closing meanwhile does not cancel the read the others wait for
        release.set()
        answers = await asyncio.gather(*tabs[1:])
        return tabs[0], answers, await newer

    closed, answers, newer = asyncio.run(ten_tabs_and_a_newer_entry())
    assert reads == [(7, "notification", None)] * 2  # one per entry, not one per tab
    assert closed.cancelled() and all(answer is answers[0] for answer in answers)
    assert len(answers[0]) == 1 and len(newer) == 1
    assert stream._reads_in_flight == {}
