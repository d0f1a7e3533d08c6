"""Two users: Bob tries every endpoint and every state handler on Alice's ids. He sees "not found",
and nothing of Alice's changes."""

from __future__ import annotations

import pytest

from tests.api.conftest import auth, on_page, run, sign_up, states_signed_in_as, upload_zip
from tests.helpers import job
from workers.accounts import sessions
from workers.store.db import session_scope
from workers.store.models import UserNotification

BASE = "/api/website-builder"


@pytest.fixture
def alices_things(api, make_zip) -> dict:
    """Alice's queued job, a cancelled one, her notifications, an API token and a webhook."""
    alice = sign_up(api, "alice")
    queued = upload_zip(api, alice, make_zip("queued"))["website"]
    cancelled = upload_zip(api, alice, make_zip("cancelled"))["website"]
    api.post(f"{BASE}/jobs/{cancelled['buildJobId']}/cancel", headers=auth(alice))
    note = api.get(f"{BASE}/user/notifications", headers=auth(alice)).json()["notifications"][0]["id"]
    token = api.post("/api/auth/tokens", headers=auth(alice), json={"name": "ci"}).json()
    webhook = api.post(f"{BASE}/user/webhooks", headers=auth(alice), json={"url": "http://127.0.0.1:9/alice"}).json()
    api.put(f"{BASE}/user/settings", headers=auth(alice), json={"email": "alice@example.com", "emailNotifications": True})
    return {
        "token": alice, "api_token": token["token"], "api_token_id": token["id"], "website": queued["id"],
        "job": queued["buildJobId"], "cancelled_job": cancelled["buildJobId"], "note": note, "webhook": webhook["id"],
    }


def alices_webhook_untouched(api, a) -> None:
    """Still there, still enabled, never sent anything, and her email settings as she left them."""
    alice = auth(a["token"])
    assert [(w["id"], w["enabled"]) for w in api.get(f"{BASE}/user/webhooks", headers=alice).json()["webhooks"]] == [(a["webhook"], True)]
    assert api.get(f"{BASE}/user/webhooks/{a['webhook']}/deliveries", headers=alice).json()["deliveries"] == []
    assert api.get(f"{BASE}/user/settings", headers=alice).json()["email"] == "alice@example.com"


def unread(user_token: str, api) -> int:
    return api.get(f"{BASE}/user/notifications", headers=auth(user_token)).json()["unreadCount"]


def test_every_endpoint_hides_other_users_objects(api, alices_things, make_zip):
    a = alices_things
    bob = auth(sign_up(api, "bob"))
    alice_unread = unread(a["token"], api)
    attempts = [
        ("GET", f"{BASE}/{a['website']}/build-status"),
        ("GET", f"{BASE}/jobs/{a['job']}"),
        ("GET", f"{BASE}/jobs/{a['job']}/logs"),
        ("POST", f"{BASE}/jobs/{a['job']}/cancel"),
        ("POST", f"{BASE}/jobs/{a['cancelled_job']}/retry"),
        ("PATCH", f"{BASE}/user/notifications/{a['note']}/read"),
        ("DELETE", f"/api/auth/tokens/{a['api_token_id']}"),
        ("POST", f"{BASE}/user/webhooks/{a['webhook']}/test"),
        ("GET", f"{BASE}/user/webhooks/{a['webhook']}/deliveries"),
        ("PATCH", f"{BASE}/user/webhooks/{a['webhook']}", {"enabled": False}),
        ("DELETE", f"{BASE}/user/webhooks/{a['webhook']}"),
        ("GET", f"{BASE}/websites/{a['website']}"),
        ("PATCH", f"{BASE}/websites/{a['website']}", {"name": "Bob's now", "autoPublish": False}),
        ("DELETE", f"{BASE}/websites/{a['website']}", {"confirm": "Site"}),
        ("POST", f"{BASE}/websites/{a['website']}/deployments/{a['job']}/promote"),
        ("POST", f"{BASE}/websites/{a['website']}/rollback"),
        ("POST", f"{BASE}/websites/{a['website']}/redeploy", {"jobId": a["job"]}),
    ]
    for method, path, *body in attempts:
        response = api.request(method, path, headers=bob, json=body[0] if body else None)
        assert response.status_code == 404, f"{method} {path} answered {response.status_code}"
        assert response.json()["message"].endswith("not found.")

    assert api.post(f"{BASE}/user/notifications/read-all", headers=bob).json()["updated"] == 0
    queue = api.get(f"{BASE}/user/queue", headers=bob).json()
    assert queue["activeJobs"] == queue["completedJobs"] == []
    assert api.get(f"{BASE}/user/notifications", headers=bob).json()["notifications"] == []
    assert api.get("/api/auth/tokens", headers=bob).json()["tokens"] == []
    assert api.get(f"{BASE}/user/webhooks", headers=bob).json()["webhooks"] == []
    assert api.get(f"{BASE}/user/settings", headers=bob).json()["email"] is None
    assert api.get(f"{BASE}/websites", headers=bob).json()["websites"] == []
    with open(make_zip("bob's"), "rb") as stream:  # a new version of Alice's website, uploaded by Bob
        onto = api.post(f"{BASE}/upload", headers=bob, data={"name": "x", "websiteId": str(a["website"])},
                        files={"files": ("bob.zip", stream, "application/zip")})
    assert onto.status_code == 404 and onto.json()["message"] == "Website not found."

    # Alice's things are as they were.
    assert job(a["job"]).status == "queued" and job(a["job"]).cancel_requested is False
    assert api.get(f"{BASE}/user/queue", headers=auth(a["token"])).json()["totalActive"] == 1
    assert unread(a["token"], api) == alice_unread
    assert api.get(f"{BASE}/user/queue", headers=auth(a["api_token"])).status_code == 200
    alices_webhook_untouched(api, a)
    site = api.get(f"{BASE}/websites/{a['website']}", headers=auth(a["token"])).json()["website"]
    assert (site["name"], site["autoPublish"], site["deploymentCount"]) == ("Site", True, 1)


def test_every_state_handler_hides_other_users_objects(api, alices_things):
    from webbuilder_app.state.integrations import IntegrationsState
    from webbuilder_app.state.job import JobFeedState, JobState
    from webbuilder_app.state.notifications import NotificationState
    from webbuilder_app.state.tokens import TokensState

    a = alices_things
    bob_token = sign_up(api, "bob")
    alice_unread = unread(a["token"], api)

    async def bob_tries():
        root = await states_signed_in_as(bob_token)
        job_state = await root.get_state(JobState)
        on_page(root, f"/jobs/{a['job']}")
        assert job_state.viewing_id == a["job"]
        await JobState.load.fn(job_state)
        assert job_state.not_found is True
        job_view = await root.get_state(JobFeedState)
        assert job_view.job == {} and not job_view._linked_to  # never attached to Alice's job
        await JobState.cancel.fn(job_state, a["job"])
        await JobState.retry.fn(job_state, a["cancelled_job"])
        downloaded = await JobState.download_log.fn(job_state, a["job"])
        assert "Job not found" in str(downloaded) and "data:" not in str(downloaded)
        on_page(root, f"/jobs/{a['cancelled_job']}?retry=1")  # as her failed-build notification leads
        await JobState.load.fn(job_state)
        assert (job_state.not_found, job_state.retry_offered) == (True, False)

        notes = await root.get_state(NotificationState)
        followed = await NotificationState.open.fn(notes, a["note"])
        assert "/jobs/" not in str(followed)  # not sent to the page Alice's notification points at
        await NotificationState.mark_all_read.fn(notes)

        tokens = await root.get_state(TokensState)
        await TokensState.load.fn(tokens)
        assert tokens.tokens == []
        await TokensState.revoke.fn(tokens, a["api_token_id"])

        integrations = await root.get_state(IntegrationsState)
        await IntegrationsState.load.fn(integrations)
        assert integrations.webhooks == [] and integrations.deliveries == [] and integrations.email == ""
        await IntegrationsState.send_test.fn(integrations, a["webhook"])
        await IntegrationsState.set_webhook_enabled.fn(integrations, a["webhook"], False)
        await IntegrationsState.remove_webhook.fn(integrations, a["webhook"])

    run(bob_tries())
    assert job(a["job"]).status == "queued" and job(a["job"]).cancel_requested is False
    assert [j["id"] for j in api.get(f"{BASE}/user/queue", headers=auth(a["token"])).json()["activeJobs"]] == [a["job"]]
    assert unread(a["token"], api) == alice_unread
    with session_scope() as session:
        assert session.get(UserNotification, a["note"]).read is False
        assert sessions.user_for_token(session, a["api_token"]).username == "alice"
    alices_webhook_untouched(api, a)


def test_a_tab_whose_session_ended_is_signed_out(api, alices_things):
    from webbuilder_app.state.auth import AuthState
    from webbuilder_app.state.job import JobState

    a = alices_things

    async def use_revoked():
        root = await states_signed_in_as(a["token"])
        with session_scope() as session:
            sessions.revoke_token(session, a["token"])
        job_state = await root.get_state(JobState)
        await JobState.cancel.fn(job_state, a["job"])
        return (await root.get_state(AuthState)).username

    assert run(use_revoked()) == ""
    assert job(a["job"]).status == "queued"
