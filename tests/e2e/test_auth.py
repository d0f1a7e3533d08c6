"""Sign-up, sign-out from the user menu, sign-in, and the guarded pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in, sign_up

pytestmark = pytest.mark.e2e


def test_sign_up_sign_out_sign_in(app, page):
    sign_up(page, app, "e2e-auth")
    expect(page.locator("#user-menu")).to_contain_text("e2e-auth")

    page.click("#user-menu")
    page.click("#sign-out")
    page.wait_for_url(f"{app.url}/login")
    # Signed out means signed out: the queue sends you back to the sign-in page.
    page.goto(app.url)
    page.wait_for_url(f"{app.url}/login")

    page.fill("#username", "e2e-auth")
    page.fill("#password", "wrong password")
    page.click("#submit")
    expect(page.get_by_text("Wrong username or password")).to_be_visible()

    sign_in(page, app, "e2e-auth")
    expect(page.locator("#user-menu")).to_contain_text("e2e-auth")


def test_sign_up_refuses_a_taken_name(app, page, browser):
    sign_up(page, app, "e2e-taken")
    other = browser.new_context().new_page()
    other.goto(f"{app.url}/register")
    other.fill("#username", "e2e-taken")
    other.fill("#password", "password123")
    other.click("#submit")
    expect(other.get_by_text("That username is taken.")).to_be_visible()
    other.context.close()
