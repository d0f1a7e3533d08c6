"""The whole app started by the run command's supervisor, and Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, TEST_DATABASE_URL, TEST_REDIS_URL, Processes, free_port, next_redis_db, wait_for
from tests.e2e.accessibility import AxeAudits, failures

CHROMIUM = os.environ.get("WEBBUILDER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class RunningApp:
    url: str
    port: int
    data_dir: Path
    log: Path
    env: dict[str, str]

    def api(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def run_python(self, code: str) -> str:
        """Run engine code against this app's database and Redis (e.g. to create an admin)."""
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **self.env},
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout


def stop_supervisor(supervisor: subprocess.Popen) -> None:
    """SIGTERM lets the supervisor stop its children, which run in sessions of their own and
    would outlive a SIGKILL of the supervisor's group."""
    supervisor.terminate()
    try:
        supervisor.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass


@pytest.fixture(scope="session")
def app() -> Iterator[RunningApp]:
    """`python -m workers.runtime.supervise` as `make run` starts it: web app + worker, embedded Valkey."""
    workdir = Path(tempfile.mkdtemp(prefix="webbuilder-e2e-"))
    port = free_port()
    env = {
        "PORT": str(port),
        "WEBBUILDER_DATA_DIR": str(workdir / "data"),
        "WEBBUILDER_LOGLEVEL": "info",
        "WEBBUILDER_MAX_CPU_PERCENT": "100",  # a busy shared test machine must not hold builds back
        "WEBBUILDER_REGISTRATIONS_PER_HOUR": "1000",  # every test's browser signs up from 127.0.0.1
        "WEBBUILDER_WEBHOOK_ALLOW_PRIVATE": "1",  # the tests' webhook receivers listen on 127.0.0.1
        # Each app instance compiles its own frontend, so test runs never share a build folder.
        "REFLEX_WEB_WORKDIR": str(workdir / ".web"),
    }
    if TEST_DATABASE_URL:
        from tests.conftest import _postgres_database

        url, drop = _postgres_database()
        env["DATABASE_URL"] = url
    else:
        drop = None
    if TEST_REDIS_URL:
        env["REDIS_URL"] = next_redis_db(TEST_REDIS_URL)  # the `env` fixture flushes TEST_REDIS_URL per test
    procs = Processes(workdir)
    procs.start([sys.executable, "-m", "workers.runtime.supervise"], env, "app.log")
    running = RunningApp(f"http://localhost:{port}", port, workdir / "data", workdir / "app.log", env)

    def healthy() -> bool:
        try:
            return httpx.get(f"{running.url}/api/health", timeout=2).status_code == 200 and httpx.get(running.url, timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, timeout=240, interval=0.5, what="the app to answer")
        yield running
    finally:
        stop_supervisor(procs.started[0])
        procs.kill_all()
        if drop:
            drop()
        shutil.rmtree(workdir, ignore_errors=True)


AXE = AxeAudits()


@pytest.fixture(scope="session")
def browser():
    """Chromium; axe-core audits the app pages of every context opened on it (tests/e2e/accessibility.py)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        AXE.watch(browser)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test fails on the serious or critical accessibility violations of the app pages it showed."""
    AXE.start_test()
    try:
        result = yield
    finally:
        audits = AXE.finish_test()
    if audits and (found := failures(audits)):
        pytest.fail(found, pytrace=False)
    return result


def pytest_terminal_summary(terminalreporter):
    if AXE.done or AXE.cut_short:
        terminalreporter.write_line(f"axe-core: {AXE.done} page audits; {AXE.cut_short} cut short by the test leaving the page")


def fresh_page(browser):
    """A page in a browser context of its own (its own cookie jar and storage)."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(30_000)
    return page


@pytest.fixture
def page(browser):
    page = fresh_page(browser)
    yield page
    page.context.close()


def make_admin(app: RunningApp, username: str, password: str = "password123") -> None:
    app.run_python(
        "from workers.accounts import users as accounts; from workers.store.db import session_scope\n"
        f"with session_scope() as s: accounts.register(s, {username!r}, {password!r}, is_admin=True)"
    )


def _submit_credentials(page, app: RunningApp, path: str, username: str, password: str) -> None:
    """Fill the sign-in or sign-up form and wait for the queue page it leads to."""
    page.goto(f"{app.url}{path}")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#submit")
    page.wait_for_url(f"{app.url}/")
    page.get_by_text("My Build Queue").first.wait_for()


def sign_in(page, app: RunningApp, username: str, password: str = "password123") -> None:
    _submit_credentials(page, app, "/login", username, password)


def sign_up(page, app: RunningApp, username: str, password: str = "password123") -> None:
    _submit_credentials(page, app, "/register", username, password)


def api_session(app: RunningApp, username: str, password: str = "password123") -> str:
    """A sign-in token for the API, as another device of the same user would get one (the page's own
    session lives in an HttpOnly cookie no script can read)."""
    with app.api() as api:
        answer = api.post("/api/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


__all__ = ["RunningApp", "api_session", "fresh_page", "make_admin", "sign_in", "sign_up", "ROOT"]
