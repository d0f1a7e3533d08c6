"""Build emails go only to confirmed addresses: a new address is mailed a link (to a local SMTP
server), opening its page changes nothing, the page's button confirms, and the code works once, for
that address only, for 24 hours; links are rate-limited; a build email waits for the confirmation."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlmodel import select

from tests.api.conftest import auth, on_page, run, sign_up, states_signed_in_as
from tests.conftest import free_port
from tests.helpers import fail_by_reaper, queue_project
from tests.mailbox import Mailbox, confirmation_code, confirmation_link
from tests.projects import static_site
from webbuilder_app.state.verify_email import VerifyEmailState
from workers.accounts import sessions
from workers.accounts import users as accounts
from workers.config import settings
from workers.notify import deliveries
from workers.store.db import session_scope
from workers.store.models import User, WebhookDelivery, as_utc

SETTINGS = "/api/website-builder/user/settings"
VERIFY = f"{SETTINGS}/verify"
RESEND = f"{SETTINGS}/resend"
USED = "This confirmation link does not work: it was used already, or a newer one replaced it."


@pytest.fixture
def smtp(mailbox, monkeypatch) -> Mailbox:
    """The app mails through the test's SMTP server."""
    for name, value in mailbox.smtp_env().items():
        monkeypatch.setenv(name, value)
    return mailbox


def account(username: str) -> User:
    with session_scope() as session:
        return accounts.find_user(session, username)


def link_sent_earlier(username: str, **delta) -> None:
    """Move the user's last confirmation link back in time, as if it had been mailed that long ago."""
    with session_scope() as session:
        user = accounts.find_user(session, username)
        user.email_verification_sent_at = as_utc(user.email_verification_sent_at) - timedelta(**delta)


def open_page(link: str) -> VerifyEmailState:
    """A fresh tab (nobody signed in) that opened the link: the page's state after its on_load."""
    from reflex.state import State

    async def opened() -> VerifyEmailState:
        root = State()
        address = urlsplit(link)
        on_page(root, f"{address.path}?{address.query}")
        page = await root.get_state(VerifyEmailState)
        VerifyEmailState.load.fn(page)
        return page

    return run(opened())


def email_deliveries_of_a_failed_build(username: str, tmp_path, label: str) -> list[str]:
    """End a build of the user's (failed by the reaper) and return the addresses its email rows go to."""
    job_id = queue_project(account(username).id, static_site(tmp_path / label, label))
    fail_by_reaper(job_id)
    with session_scope() as session:
        rows = session.exec(select(WebhookDelivery).where(WebhookDelivery.job_id == job_id, WebhookDelivery.channel == "email"))
        return [row.target for row in rows]


def test_a_new_address_gets_a_link_and_build_emails_only_once_it_is_confirmed(api, smtp, tmp_path):
    me = auth(sign_up(api, "alice"))
    saved = api.put(SETTINGS, headers=me, json={"email": "alice@example.com", "emailNotifications": True}).json()
    assert (saved["email"], saved["emailNotifications"], saved["emailVerified"]) == ("alice@example.com", True, False)
    assert saved["verificationSentAt"] is not None and saved["emailAvailable"] is True
    [mail] = smtp.wait_for(1)
    assert (mail["To"], mail["From"], mail["Subject"]) == (
        "alice@example.com", "builds@webbuilder.test", "Confirm your address for webbuilder build emails")
    assert "The webbuilder account alice asked" in mail.get_content()
    link, code = confirmation_link(mail), confirmation_code(mail)
    assert link == f"{settings().public_url}/verify-email?code={code}" and len(code) >= 40
    assert account("alice").email_verification_hash == sessions.digest(code)  # the code itself is not stored

    assert email_deliveries_of_a_failed_build("alice", tmp_path, "before") == []  # webhooks only, none here

    for _ in range(2):  # opening the page, as a mail scanner would, confirms nothing
        page = open_page(link)
        assert (page.address, page.problem, page.confirmed) == ("alice@example.com", "", False)
    assert api.get(SETTINGS, headers=me).json()["emailVerified"] is False

    VerifyEmailState.confirm.fn(page)  # the button
    assert (page.confirmed, page.problem) == (True, "")
    now = api.get(SETTINGS, headers=me).json()
    assert (now["emailVerified"], now["verificationSentAt"]) == (True, None)
    assert email_deliveries_of_a_failed_build("alice", tmp_path, "after") == ["alice@example.com"]

    again = open_page(link)  # single use
    assert (again.address, again.problem) == ("", USED)
    VerifyEmailState.confirm.fn(again)
    assert (again.confirmed, again.problem) == (False, USED)
    replay = api.post(VERIFY, json={"code": code})
    assert (replay.status_code, replay.json()["message"]) == (404, USED)
    assert len(smtp.messages) == 1  # nothing else was mailed


def test_a_code_confirms_only_the_address_it_was_sent_to(api, smtp):
    me = auth(sign_up(api, "alice"))
    api.put(SETTINGS, headers=me, json={"email": "first@example.com", "emailNotifications": True})
    link_sent_earlier("alice", minutes=2)
    api.put(SETTINGS, headers=me, json={"email": "second@example.com", "emailNotifications": True})
    first, second = smtp.wait_for(2)
    assert (first["To"], second["To"]) == ("first@example.com", "second@example.com")

    stale = api.post(VERIFY, json={"code": confirmation_code(first)})
    assert (stale.status_code, stale.json()["message"]) == (404, USED)
    assert api.get(SETTINGS, headers=me).json()["emailVerified"] is False
    assert api.post(VERIFY, json={"code": confirmation_code(second)}).json() == {"success": True, "email": "second@example.com"}
    assert api.get(SETTINGS, headers=me).json()["emailVerified"] is True

    # Turning emails off and on keeps the confirmed address confirmed and mails nothing...
    for enabled in (False, True):
        kept = api.put(SETTINGS, headers=me, json={"email": "second@example.com", "emailNotifications": enabled}).json()
        assert (kept["emailVerified"], kept["emailNotifications"]) == (True, enabled)
    # ...changing it starts over.
    link_sent_earlier("alice", minutes=2)
    changed = api.put(SETTINGS, headers=me, json={"email": "third@example.com", "emailNotifications": True}).json()
    assert (changed["email"], changed["emailVerified"]) == ("third@example.com", False)
    assert [m["To"] for m in smtp.wait_for(3)] == ["first@example.com", "second@example.com", "third@example.com"]

    for code in ("", "x" * 101):
        assert api.post(VERIFY, json={"code": code}).status_code == 422
    assert api.post(VERIFY, json={"code": "not-a-code"}).status_code == 404


def test_links_are_rate_limited_resent_and_expire(api, smtp):
    me = auth(sign_up(api, "alice"))
    api.put(SETTINGS, headers=me, json={"email": "alice@example.com", "emailNotifications": True})
    [first] = smtp.wait_for(1)

    for method, path, body in (("POST", RESEND, None), ("PUT", SETTINGS, {"email": "other@example.com", "emailNotifications": True})):
        refused = api.request(method, path, headers=me, json=body)
        assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60, refused.text
        assert refused.json()["message"].startswith("A confirmation link was sent moments ago; you can ask for another in ")
    assert api.get(SETTINGS, headers=me).json()["email"] == "alice@example.com"  # the refused change changed nothing
    assert len(smtp.messages) == 1

    link_sent_earlier("alice", seconds=61)
    resent = api.post(RESEND, headers=me)
    assert resent.status_code == 200 and resent.json()["emailVerified"] is False
    [_, second] = smtp.wait_for(2)
    assert second["To"] == "alice@example.com" and confirmation_code(second) != confirmation_code(first)
    assert api.post(VERIFY, json={"code": confirmation_code(first)}).status_code == 404  # replaced

    link_sent_earlier("alice", hours=25)
    expired = "This confirmation link has expired (after 24 hours); ask for a new one on the Integrations page."
    assert open_page(confirmation_link(second)).problem == expired
    late = api.post(VERIFY, json={"code": confirmation_code(second)})
    assert (late.status_code, late.json()["message"]) == (410, expired)
    assert api.get(SETTINGS, headers=me).json()["verificationSentAt"] is None  # the page offers Resend
    assert api.post(RESEND, headers=me).status_code == 200
    [*_, third] = smtp.wait_for(3)
    assert api.post(VERIFY, json={"code": confirmation_code(third)}).json()["email"] == "alice@example.com"

    confirmed = api.post(RESEND, headers=me)
    assert (confirmed.status_code, confirmed.json()["message"]) == (409, "alice@example.com is confirmed already.")
    api.put(SETTINGS, headers=me, json={"email": None, "emailNotifications": False})
    nothing = api.post(RESEND, headers=me)
    assert (nothing.status_code, nothing.json()["message"]) == (409, "Enter an email address first.")
    assert api.post(RESEND).status_code == 401
    assert len(smtp.messages) == 3


def test_without_a_mail_server_the_address_is_kept_unconfirmed_and_resend_says_why(api):
    me = auth(sign_up(api, "alice"))
    saved = api.put(SETTINGS, headers=me, json={"email": "alice@example.com", "emailNotifications": True}).json()
    assert (saved["emailAvailable"], saved["emailVerified"], saved["verificationSentAt"]) == (False, False, None)
    assert account("alice").email_verification_hash is None  # no link exists
    refused = api.post(RESEND, headers=me)
    assert (refused.status_code, refused.json()["message"]) == (
        409, "This server has no mail server configured (WEBBUILDER_SMTP_HOST), so it sends no emails.")


def test_a_mail_server_that_cannot_be_reached_is_reported_and_the_address_kept(api, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("WEBBUILDER_SMTP_PORT", str(free_port()))  # nothing listens there
    me = auth(sign_up(api, "alice"))
    answer = api.put(SETTINGS, headers=me, json={"email": "alice@example.com", "emailNotifications": True})
    assert answer.status_code == 502
    assert answer.json()["message"].startswith("The address is saved, but the confirmation email could not be sent (")
    assert answer.json()["message"].endswith("); try Resend in a minute.")
    kept = api.get(SETTINGS, headers=me).json()
    assert (kept["email"], kept["emailVerified"]) == ("alice@example.com", False)


def test_a_build_email_due_for_an_address_since_changed_is_not_sent(api, smtp, tmp_path):
    me = auth(sign_up(api, "alice"))
    api.put(SETTINGS, headers=me, json={"email": "old@example.com", "emailNotifications": True})
    api.post(VERIFY, json={"code": confirmation_code(smtp.wait_for(1)[0])})
    [target] = email_deliveries_of_a_failed_build("alice", tmp_path, "site")
    assert target == "old@example.com"
    link_sent_earlier("alice", minutes=2)
    api.put(SETTINGS, headers=me, json={"email": "new@example.com", "emailNotifications": True})
    smtp.wait_for(2)

    with session_scope() as session:
        [due] = session.exec(select(WebhookDelivery).where(WebhookDelivery.channel == "email")).all()
    deliveries.attempt(due.id)
    with session_scope() as session:
        done = session.get(WebhookDelivery, due.id)
    assert (done.status, done.last_error) == ("failed", "the address was changed after this email was due")
    assert [m["Subject"] for m in smtp.messages] == ["Confirm your address for webbuilder build emails"] * 2


def test_the_integrations_page_saves_resends_and_shows_whether_the_address_is_confirmed(api, smtp):
    from webbuilder_app.state.integrations import IntegrationsState

    token = sign_up(api, "alice")

    async def page_after(*steps) -> tuple[IntegrationsState, list]:
        page = await (await states_signed_in_as(token)).get_state(IntegrationsState)
        await IntegrationsState.load.fn(page)
        answers = [await step(page) for step in steps]
        return page, answers

    async def save(page):
        IntegrationsState.set_email.fn(page, "alice@example.com")
        IntegrationsState.set_email_notifications.fn(page, True)
        return await IntegrationsState.save_email.fn(page)

    page, [saved, too_soon] = run(page_after(save, IntegrationsState.resend_confirmation.fn))
    assert (page.saved_email, page.email_verified, page.confirmation_sent, page.email_error) == ("alice@example.com", False, True, "")
    assert "Confirm alice@example.com with the link just mailed to it" in str(saved)
    assert "A confirmation link was sent moments ago" in str(too_soon)
    [first] = smtp.wait_for(1)

    link_sent_earlier("alice", seconds=61)
    page, [resent] = run(page_after(IntegrationsState.resend_confirmation.fn))
    assert "A new confirmation link is on its way to alice@example.com." in str(resent)
    [_, second] = smtp.wait_for(2)
    assert api.post(VERIFY, json={"code": confirmation_code(first)}).status_code == 404
    assert api.post(VERIFY, json={"code": confirmation_code(second)}).status_code == 200
    page, _ = run(page_after())
    assert (page.saved_email, page.email_verified, page.confirmation_sent) == ("alice@example.com", True, False)
