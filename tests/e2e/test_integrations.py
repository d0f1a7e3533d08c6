"""The Integrations page against the whole app: add a webhook, copy its secret, send a test."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import sign_up
from tests.webhook_receiver import readme_verify

pytestmark = pytest.mark.e2e


def test_add_a_webhook_see_its_secret_and_send_a_test(app, page, receiver):
    hook = receiver(200)
    sign_up(page, app, "hooks-e2e")
    page.click("text=Integrations")
    page.wait_for_url(f"{app.url}/integrations")
    page.get_by_text("Nothing sent yet.").wait_for()

    page.fill("#webhook-url", hook.url)
    page.click("#add-webhook")
    secret = page.locator("#webhook-secret").inner_text().strip()
    assert secret.startswith("whsec_")

    page.locator(".webhook-row", has_text=hook.url).get_by_role("button", name="Send test").click()
    page.locator(".delivery-row", has_text="ping").locator(".delivery-status", has_text="delivered").wait_for()
    page.get_by_text("Test delivered: the receiver answered 200.").wait_for()
    [request] = hook.received
    assert request.json["event"] == "ping"
    assert readme_verify()(secret, request.headers, request.body)  # the secret shown is the one that signs

    page.reload()  # shown once: gone after a reload, and the webhook stays
    page.locator(".webhook-row", has_text=hook.url).wait_for()
    page.locator("#webhook-secret").wait_for(state="detached")
