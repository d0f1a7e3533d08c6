"""Live-update latency: a change written in another process → the text on screen, in Chromium.

Starts the web app (the run command's supervisor, WEBBUILDER_ROLE=web) on its own port, data folder
and Valkey; this process then plays the worker: it writes a job's current step in the database and
publishes the change notice, exactly as workers/pipeline.py does. Every open page waits for the new
text with a MutationObserver and records when it appeared; latency = that moment - the moment just
before the write. Measured with 1 page and with 50 pages open at once, on the queue dashboard (the
user's shared feed) and on the job page (per-tab refresh).

    python -m bench.live_latency [--trials 20] [--pages 1,50] [--targets queue,job]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("WEBBUILDER_CHROMIUM", "/usr/bin/chromium")
USERNAME, PASSWORD = "bench-user", "password123"
TARGETS = {"queue": (".current-step", "/"), "job": ("#current-step", "/jobs/{job_id}")}

# Where the time goes: the moment the websocket frame carrying the text reaches the page (the server's
# share) versus the moment the DOM shows it (plus the page's rendering).
RECORD_FRAMES = """(() => { const Native = window.WebSocket;
  window.WebSocket = class extends Native { constructor(...args) { super(...args);
    this.addEventListener('message', event => {
      if (window.__expect && window.__frameAt === null && typeof event.data === 'string' && event.data.includes(window.__expect))
        window.__frameAt = performance.timeOrigin + performance.now();
    }); } }; })()"""
WAIT_FOR_TEXT = """([selector, text]) => { window.__expect = text; window.__frameAt = null;
window.__seen = new Promise(resolve => {
  const hit = () => [...document.querySelectorAll(selector)].some(e => e.textContent === text);
  if (hit()) return resolve(performance.timeOrigin + performance.now());
  const observer = new MutationObserver(() => {
    if (hit()) { observer.disconnect(); resolve(performance.timeOrigin + performance.now()); }
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}); }"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(role: str = "web", **settings: str):
    """`make run` (by default its web half) with a fresh data folder; yields (url, env for this
    process)."""
    from workers.runtime.supervise import EmbeddedValkey, valkey_password

    workdir = Path(tempfile.mkdtemp(prefix="webbuilder-bench-"))
    valkey = EmbeddedValkey(valkey_password(workdir))  # with a password, as `make run` starts it
    port = _free_port()
    env = {
        "PORT": str(port),
        "WEBBUILDER_DATA_DIR": str(workdir / "data"),
        "REDIS_URL": valkey.url,
        "WEBBUILDER_ROLE": role,
        "REFLEX_WEB_WORKDIR": str(workdir / ".web"),
        **settings,
    }
    log = open(workdir / "app.log", "wb")
    app = subprocess.Popen([sys.executable, "-m", "workers.runtime.supervise"], cwd=ROOT, env={**os.environ, **env},
                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200 and httpx.get(url, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if app.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the app did not start; see {workdir / 'app.log'}")
            time.sleep(0.5)
        yield url, env
    finally:
        app.send_signal(signal.SIGTERM)  # the supervisor stops its children
        try:
            app.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(app.pid, signal.SIGKILL)
        valkey.stop()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _seed_job() -> tuple[int, int]:
    """A user with one job in `building`, as a worker would have claimed it."""
    from workers.accounts import users as accounts
    from workers.store.db import session_scope
    from workers.store.models import BuildJob, JobStatus, Website, utcnow

    with session_scope() as session:
        user = accounts.register(session, USERNAME, PASSWORD)
        website = Website(user_id=user.id, name="Bench site")
        session.add(website)
        session.flush()
        job = BuildJob(website_id=website.id, user_id=user.id, status=JobStatus.BUILDING, started_at=utcnow(),
                       progress=40, current_step="install")
        session.add(job)
        session.flush()
        return user.id, job.id


def _write_step(user_id: int, job_id: int, text: str) -> None:
    """What a worker does on progress: update the row, then publish the change notice."""
    from workers.store import events
    from workers.store.db import session_scope
    from workers.store.models import BuildJob

    with session_scope() as session:
        session.get(BuildJob, job_id).current_step = text
    events.publish(events.Notice(events.Change.JOB, user_id, job_id))


def measure(url: str, pages: list, user_id: int, job_id: int, selector: str, trials: int) -> tuple[list[float], list[float]]:
    """Latencies of the DOM change and of the websocket frame's arrival, one per page and trial."""
    shown, arrived = [], []
    for trial in range(trials):
        text = f"bench step {time.time_ns()}"
        for page in pages:
            page.evaluate(WAIT_FOR_TEXT, [selector, text])
        started_ms = time.time() * 1000
        _write_step(user_id, job_id, text)
        for page in pages:
            shown.append(page.evaluate("() => window.__seen") - started_ms)
            arrived.append(page.evaluate("() => window.__frameAt") - started_ms)
    return shown, arrived


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(trials: int = 20, page_counts: tuple[int, ...] = (1, 50), targets: tuple[str, ...] = tuple(TARGETS)) -> list[dict]:
    from playwright.sync_api import sync_playwright

    results = []
    with running_app() as (url, env), sync_playwright() as playwright:
        os.environ.update(env)  # this process now talks to the app's database and Redis
        user_id, job_id = _seed_job()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-renderer-backgrounding",
                                                   "--disable-background-timer-throttling"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(RECORD_FRAMES)
        first = context.new_page()
        first.goto(f"{url}/login")
        first.fill("#username", USERNAME)
        first.fill("#password", PASSWORD)
        first.click("#submit")
        first.wait_for_url(f"{url}/")
        first.close()
        for target in targets:
            selector, path = TARGETS[target]
            for count in page_counts:
                pages = [context.new_page() for _ in range(count)]
                for page in pages:
                    page.goto(url + path.format(job_id=job_id))
                    page.locator(selector).first.wait_for(timeout=60_000)
                measure(url, pages, user_id, job_id, selector, 2)  # warm-up
                latencies, frames = measure(url, pages, user_id, job_id, selector, trials)
                results.append({
                    "page": target, "pages": count, "samples": len(latencies),
                    "p50_ms": round(statistics.median(latencies), 1),
                    "p95_ms": round(_percentile(latencies, 0.95), 1),
                    "max_ms": round(max(latencies), 1),
                    "frame_p50_ms": round(statistics.median(frames), 1),
                    "frame_p95_ms": round(_percentile(frames, 0.95), 1),
                })
                r = results[-1]
                print(f"  {target} page x{count}: DOM p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms; "
                      f"frame arrived p50 {r['frame_p50_ms']} ms, p95 {r['frame_p95_ms']} ms", file=sys.stderr)
                for page in pages:
                    page.close()
        browser.close()
    return results


def report(results: list[dict]) -> str:
    lines = ["live latency (DB write + notice in another process -> DOM text; -> websocket frame at the page), Chromium",
             f"{'page':<7}{'open pages':>11}{'samples':>9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'frame p50':>11}{'frame p95':>11}"]
    lines += [f"{r['page']:<7}{r['pages']:>11}{r['samples']:>9}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['max_ms']:>9}"
              f"{r['frame_p50_ms']:>11}{r['frame_p95_ms']:>11}" for r in results]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--pages", default="1,50", help="comma-separated numbers of pages open at once")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated pages to measure: queue, job")
    args = parser.parse_args()
    print(report(run(args.trials, tuple(int(n) for n in args.pages.split(",")), tuple(args.targets.split(",")))))


if __name__ == "__main__":
    main()
