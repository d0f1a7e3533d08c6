"""How an open tab announces a finished build (state/notifications.py): a toast in the page, and a
desktop notification as well when the tab is in the background and the user allowed them."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.api.conftest import upload_zip
from tests.e2e.conftest import api_session, sign_up
from tests.e2e.test_failures import upload
from tests.projects import scripted_project, static_site, zip_folder

pytestmark = pytest.mark.e2e

# Records every desktop notification the page creates (the real one is still created), and lets the
# test send the tab to the background: headless Chromium keeps every tab visible.
DESKTOP_RECORDER_JS = """
window.desktopNotifications = [];
window.backgrounded = false;
Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => window.backgrounded });
Object.defineProperty(Document.prototype, 'visibilityState', {
  configurable: true, get: () => (window.backgrounded ? 'hidden' : 'visible'),
});
window.Notification = class extends window.Notification {
  constructor(title, options) {
    window.desktopNotifications.push({ title, body: options && options.body });
    super(title, options);
  }
};
"""


def toast(page, kind: str, title: str):
    return page.locator(f"[data-sonner-toast][data-type={kind}]").filter(has_text=title)


def test_a_failed_build_is_toasted_with_its_error(app, page, tmp_path):
    # npm run build succeeds but writes no dist/: the pipeline fails the build step with a message.
    project = scripted_project(tmp_path / "empty", "console.log('nothing to build')\n")
    sign_up(page, app, "e2e-failed-toast")
    upload(page, zip_folder(project, tmp_path / "empty.zip"), "Empty site")

    failed = toast(page, "error", "Empty site failed to build")
    expect(failed).to_be_visible(timeout=120_000)
    expect(failed).to_contain_text("build: the build finished but produced no dist/index.html")
    expect(page.locator("#job-error")).to_have_text("build: the build finished but produced no dist/index.html")


def test_desktop_notification_only_while_the_tab_is_in_the_background(app, page, tmp_path):
    page.context.grant_permissions(["notifications"], origin=app.url)
    page.context.add_init_script(DESKTOP_RECORDER_JS)
    sign_up(page, app, "e2e-desktop")
    assert page.evaluate("() => Notification.permission") == "granted"
    token = api_session(app, "e2e-desktop")

    def build_elsewhere(name: str) -> None:
        """Upload through the API, as another device would: this tab only watches."""
        folder = static_site(tmp_path / name, f"{name} for the desktop test")
        with app.api() as api:
            upload_zip(api, token, zip_folder(folder, tmp_path / f"{name}.zip"), name)

    build_elsewhere("Seen site")
    expect(toast(page, "success", "Seen site is live")).to_be_visible(timeout=120_000)

    page.evaluate("() => { window.backgrounded = true; document.dispatchEvent(new Event('visibilitychange')) }")
    build_elsewhere("Unseen site")
    page.wait_for_function("() => window.desktopNotifications.length > 0", timeout=120_000)
    # An announcement is the toast then the desktop call, and a tab runs its events in order: the first
    # build's desktop call ran (while visible) before this one, and showed nothing.
    [shown] = page.evaluate("() => window.desktopNotifications")
    assert shown["title"].startswith("Unseen site is live at http://unseen-site.localhost:")
    assert shown["body"].startswith("Built in")
