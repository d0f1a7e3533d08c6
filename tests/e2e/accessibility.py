"""axe-core on every page of the app that the end-to-end tests' browsers show.

Every page of every browser context is watched (Browser "context", then BrowserContext "page" events).
When a page's main frame shows a path of the app that this test has not audited yet in that context,
the audit waits until Reflex has hydrated the page (the state update that sets `is_hydrated`, read off
the page's websocket: the page's on_load data is in by then) and the page has settled, injects
axe.min.js and runs `axe.run()`. It runs in the event listener's own greenlet (Playwright's sync API
gives each listener one), so the test goes on meanwhile and pays only for an audit still running
when it ends. An audit the test outruns (it left the page first) is tried again on the next visit.
Published sites (any *.localhost host) are the users' pages and are not audited.

Violations of impact serious or critical fail the test (tests/e2e/conftest.py, pytest_runtest_call).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Error, Frame, Page, WebSocket

from tests.conftest import ROOT

AXE_SCRIPT = ROOT / ".tools/node_modules/axe-core/axe.min.js"
FAILING_IMPACTS = ("serious", "critical")
PUBLISHED_SITE_SUFFIX = ".localhost"  # http://<site>.localhost:PORT; the app itself is on localhost
HYDRATED = re.compile(r'"is_hydrated_rx_state_"\s*:\s*true')
HYDRATION_TIMEOUT = 10.0  # seconds; a page that never hydrates is audited as it is then
FINISH_TIMEOUT = 30.0  # seconds an ending test waits for its audits still running

# Rules narrowed for what Radix itself does, as axe.configure() rule selectors, and why.
RADIX_EXCLUSIONS = [
    # A modal Radix menu or dialog hides the rest of the page from assistive technology while it is
    # open (the aria-hidden library's hideOthers: aria-hidden plus its data-aria-hidden marker on the
    # page root) and traps focus inside itself; the rule would count the page's own buttons under it.
    # axe 4.14's own selector for the rule is '[aria-hidden="true"]'.
    {"id": "aria-hidden-focus", "selector": '[aria-hidden="true"]:not([data-aria-hidden])'},
]

# Runs in the page: once the document has loaded, the route's component has rendered (it brings the
# page's <title>: a dynamic route such as /jobs/1 starts as Reflex's untitled fallback page), no finite
# animation runs (a dialog fading in would fool the contrast rule) and React has painted, audit it if
# it still shows `path`. A page that never gets there within 3 s is audited as it is then.
AUDIT_JS = r"""async ([path, impacts]) => {
  if (document.readyState !== "complete") await new Promise((loaded) => addEventListener("load", loaded, {once: true}));
  const animating = () => document.getAnimations().some(
    (a) => a.playState === "running" && a.effect?.getComputedTiming().endTime !== Infinity);
  const deadline = performance.now() + 3000;
  while ((!document.title || animating()) && performance.now() < deadline) await new Promise((later) => setTimeout(later, 50));
  await new Promise((painted) => requestAnimationFrame(() => requestAnimationFrame(painted)));
  if ((location.pathname.replace(/\/+$/, "") || "/") !== path) return null;
  const {violations} = await axe.run(document, {resultTypes: ["violations"]});
  return violations.filter((v) => impacts.includes(v.impact)).map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((node) => `${node.target.join(" ")}: ${(node.any[0] ?? node.all[0] ?? node.none[0])?.message ?? ""}`),
  }));
}"""


@dataclass
class Violation:
    url: str
    rule: str
    impact: str
    help: str
    help_url: str
    nodes: list[str]  # each element's selector and what axe says of it

    def __str__(self) -> str:
        return f"{self.url}: {self.rule} ({self.impact}) {self.help}; {self.help_url}\n    " + "\n    ".join(self.nodes)


@dataclass
class TestAudits:
    """One test's audits: which (context, path) pairs it has claimed, and what they found."""

    claimed: set[tuple[int, str]] = field(default_factory=set)
    violations: list[Violation] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # audits that failed for another reason than a navigation
    running: dict[int, Page] = field(default_factory=dict)  # id(page) → page, while it is audited
    done: int = 0
    cut_short: int = 0


class AxeAudits:
    """Watches a browser's pages and audits each app page a test shows, once per context and path."""

    def __init__(self) -> None:
        self.source = ""
        self.current: TestAudits | None = None
        self.done = 0
        self.cut_short = 0

    def watch(self, browser: Browser) -> None:
        if not AXE_SCRIPT.is_file():
            raise RuntimeError(f"{AXE_SCRIPT} is missing: run `scripts/bootstrap --test`")
        self.source = AXE_SCRIPT.read_text()
        browser.on("context", self._watch_context)

    def _watch_context(self, context: BrowserContext) -> None:
        context.on("page", lambda page: _PageWatch(self, page))

    def start_test(self) -> None:
        self.current = TestAudits()

    def finish_test(self) -> TestAudits | None:
        """Wait for the audits still running (driving Playwright's loop through their pages), then
        return this test's audits."""
        test, self.current = self.current, None
        if test is None:
            return None
        deadline = time.monotonic() + FINISH_TIMEOUT
        while test.running and time.monotonic() < deadline:
            page = next(iter(test.running.values()))
            try:
                page.wait_for_timeout(25)
            except Error:  # closed: its audit ends with it
                test.running.pop(id(page), None)
        self.done += test.done
        self.cut_short += test.cut_short
        if test.running:
            test.errors.append(f"audits still running after {FINISH_TIMEOUT:.0f} s: {', '.join(p.url for p in test.running.values())}")
        return test


class _PageWatch:
    def __init__(self, audits: AxeAudits, page: Page) -> None:
        self.audits = audits
        self.page = page
        self.hydrations = 0  # hydrated-state updates received so far
        self.queue: list[tuple[TestAudits, str, int]] = []  # (test, path, hydrations when it was shown)
        page.on("websocket", self._socket)
        page.on("framenavigated", self._navigated)

    def _socket(self, socket: WebSocket) -> None:
        socket.on("framereceived", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        if isinstance(payload, str) and HYDRATED.search(payload):
            self.hydrations += 1

    def _navigated(self, frame: Frame) -> None:
        test = self.audits.current
        url = urlsplit(frame.url)
        if (test is None or frame.parent_frame is not None or url.scheme not in ("http", "https")
                or (url.hostname or "").endswith(PUBLISHED_SITE_SUFFIX)):
            return
        path = url.path.rstrip("/") or "/"  # the app answers /login/ and /login alike
        key = (id(self.page.context), path)
        if key in test.claimed:
            return
        test.claimed.add(key)
        self.queue.append((test, path, self.hydrations))
        if id(self.page) in test.running:  # that audit's loop takes this one next (axe runs one at a time)
            return
        test.running[id(self.page)] = self.page
        try:
            while self.queue:
                self._audit(*self.queue.pop(0))
        finally:
            test.running.pop(id(self.page), None)

    def _audit(self, test: TestAudits, path: str, hydrations_before: int) -> None:
        try:
            deadline = time.monotonic() + HYDRATION_TIMEOUT
            while self.hydrations <= hydrations_before and time.monotonic() < deadline and self.audits.current is test:
                self.page.wait_for_timeout(25)
            if self.audits.current is not test:
                return
            if not self.page.evaluate("() => typeof window.axe === 'object'"):
                self.page.evaluate(self.audits.source)
                self.page.evaluate("rules => axe.configure({rules})", RADIX_EXCLUSIONS)
            found = self.page.evaluate(AUDIT_JS, [path, list(FAILING_IMPACTS)])
        except Error as error:
            left = (urlsplit(self.page.url).path.rstrip("/") or "/") != path
            if not (self.page.is_closed() or left or "context was destroyed" in error.message):
                test.errors.append(f"{self.page.url}: the audit failed: {error.message}")
                return
            found = None  # the page was closed, or left (a navigation destroys the page's context)
        if found is None:
            test.claimed.discard((id(self.page.context), path))
            test.cut_short += 1
            return
        test.done += 1
        url = self.page.url
        test.violations += [Violation(url, v["id"], v["impact"], v["help"], v["helpUrl"], v["nodes"]) for v in found]


def failures(test: TestAudits) -> str:
    """What should fail the test, or "" when nothing should."""
    found = [f"axe-core: {len(test.violations)} serious or critical accessibility violation(s):", *map(str, test.violations)] if test.violations else []
    return "\n".join(found + test.errors)
