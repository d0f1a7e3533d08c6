"""The webhook and email-settings endpoints: what a script sees, and every refusal as a message."""

from __future__ import annotations

from tests.api.conftest import auth, sign_up
from tests.webhook_receiver import readme_verify

HOOKS = "/api/website-builder/user/webhooks"
SETTINGS = "/api/website-builder/user/settings"


def test_add_test_list_disable_and_remove_a_webhook(api, receiver):
    me = auth(sign_up(api, "alice"))
    hook = receiver(200, 500)
    created = api.post(HOOKS, headers=me, json={"url": hook.url})
    assert created.status_code == 201, created.text
    webhook = created.json()
    secret = webhook.pop("secret")
    assert secret.startswith("whsec_")
    listed = api.get(HOOKS, headers=me).json()["webhooks"]
    assert listed == [{key: webhook[key] for key in ("id", "url", "enabled", "createdAt")}] and webhook["enabled"] is True

    ok = api.post(f"{HOOKS}/{webhook['id']}/test", headers=me).json()
    assert (ok["delivered"], ok["statusCode"], ok["delivery"]["event"], ok["delivery"]["status"]) == (True, 200, "ping", "delivered")
    assert readme_verify()(secret, hook.received[0].headers, hook.received[0].body)
    refused = api.post(f"{HOOKS}/{webhook['id']}/test", headers=me).json()
    assert (refused["delivered"], refused["statusCode"], refused["delivery"]["error"]) == (False, 500, "answered 500")
    history = api.get(f"{HOOKS}/{webhook['id']}/deliveries", headers=me).json()["deliveries"]
    assert [(d["status"], d["responseCode"], d["attempts"]) for d in history] == [("failed", 500, 1), ("delivered", 200, 1)]

    disabled = api.patch(f"{HOOKS}/{webhook['id']}", headers=me, json={"enabled": False}).json()
    assert disabled["enabled"] is False and api.get(HOOKS, headers=me).json()["webhooks"][0]["enabled"] is False

    assert api.delete(f"{HOOKS}/{webhook['id']}", headers=me).json() == {"success": True}
    assert api.get(HOOKS, headers=me).json()["webhooks"] == []
    gone = api.get(f"{HOOKS}/{webhook['id']}/deliveries", headers=me)
    assert (gone.status_code, gone.json()["message"]) == (404, "Webhook not found.")


def test_webhook_refusals_say_why(api):
    me = auth(sign_up(api, "alice"))
    for body, status, message in (
        ({"url": "ftp://example.com/hook"}, 422, "Only http:// and https:// URLs can receive webhooks."),
        ({"url": "example.com/hook"}, 422, "Only http:// and https:// URLs can receive webhooks."),
        ({"url": "https://"}, 422, "The URL has no host name."),
        ({"url": ""}, 422, "url: String should have at least 1 character"),
        ({}, 422, "url: Field required"),
    ):
        answer = api.post(HOOKS, headers=me, json=body)
        assert (answer.status_code, answer.json()["message"]) == (status, message), body
    for n in range(10):
        assert api.post(HOOKS, headers=me, json={"url": f"https://example.com/{n}"}).status_code == 201
    eleventh = api.post(HOOKS, headers=me, json={"url": "https://example.com/11"})
    assert (eleventh.status_code, eleventh.json()["message"]) == (409, "You have 10 webhooks already; remove one first.")
    assert api.get(HOOKS).status_code == 401


def test_email_settings(api):
    me = auth(sign_up(api, "alice"))
    assert api.get(SETTINGS, headers=me).json() == {
        "success": True, "email": None, "emailNotifications": False, "emailAvailable": False,
        "emailVerified": False, "verificationSentAt": None,
    }
    saved = api.put(SETTINGS, headers=me, json={"email": " alice@example.com ", "emailNotifications": True})
    assert saved.status_code == 200 and (saved.json()["email"], saved.json()["emailNotifications"]) == ("alice@example.com", True)
    assert api.get(SETTINGS, headers=me).json()["email"] == "alice@example.com"
    for body, message in (
        ({"email": "not an address", "emailNotifications": True}, "That is not an email address (like you@example.com)."),
        ({"email": None, "emailNotifications": True}, "Enter an email address to turn build emails on."),
        ({"email": "alice@example.com"}, "emailNotifications: Field required"),
    ):
        refused = api.put(SETTINGS, headers=me, json=body)
        assert (refused.status_code, refused.json()["message"]) == (422, message), body
    assert api.get(SETTINGS, headers=me).json()["email"] == "alice@example.com"  # unchanged by the refusals
    off = api.put(SETTINGS, headers=me, json={"email": None, "emailNotifications": False}).json()
    assert (off["email"], off["emailNotifications"]) == (None, False)
