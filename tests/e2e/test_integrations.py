"""The Integrations page against the whole app: add a webhook, copy its secret, send a test; confirm an
email address on the page its link opens."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

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
    expect(page.locator("#webhook-secret")).to_contain_text("whsec_")  # written in by a script, not state
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


def confirmed(app) -> str:
    return app.run_python(
        "from workers.accounts import users as accounts; from workers.store.db import session_scope\n"
        "with session_scope() as s: print(accounts.find_user(s, 'confirm-e2e').email_confirmed)"
    ).strip()


def test_an_address_is_confirmed_by_the_button_of_the_page_its_link_opens(app, page, browser):
    sign_up(page, app, "confirm-e2e")
    # The link a confirmation email carries. This app sends no emails (no SMTP server), so the code is
    # made as a server with one would make it before mailing it.
    link = app.run_python(
        "import os; os.environ['WEBBUILDER_SMTP_HOST'] = '127.0.0.1'\n"
        "from workers.accounts import users as accounts; from workers.notify import mailer; from workers.store.db import session_scope\n"
        "with session_scope() as s:\n"
        "    user, code = accounts.set_notification_settings(s, accounts.find_user(s, 'confirm-e2e').id, 'me@example.com', True)\n"
        "print(mailer.verification_link(code))"
    ).strip()
    assert link.startswith(f"{app.url}/verify-email?code=")
    page.goto(f"{app.url}/integrations")
    page.locator("#email-status").get_by_text("unverified", exact=True).wait_for()

    stranger = browser.new_context()  # no sign-in needed: the code is the proof
    try:
        visit = stranger.new_page()
        visit.goto(link)
        visit.get_by_role("button", name="Confirm me@example.com").wait_for()
        assert confirmed(app) == "False"  # opening the link confirmed nothing

        visit.click("#confirm-email")
        visit.locator("#email-confirmed", has_text="Confirmed: build emails go to me@example.com from now on.").wait_for()
        assert confirmed(app) == "True"
        page.reload()
        page.locator("#email-status").get_by_text("verified", exact=True).wait_for()

        visit.goto(link)  # used up
        visit.locator("#confirm-problem", has_text="it was used already").wait_for()
        assert visit.locator("#confirm-email").count() == 0
    finally:
        stranger.close()
