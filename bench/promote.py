"""Promote → served: how long after a promote (a rollback) the website's stable address serves the
promoted deployment, read from two web processes that each cached the address before.

Each round promotes the deployment that is not live (alternating two of one website) through the
service, as the API does, and polls both web processes' stable address until each serves it; the
latency is the slower process's. The cache's entries expire after 30 s, so anything under that comes
from the change notice reaching every process.

    python -m bench.promote [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import httpx

from tests.projects import static_site
from workers.accounts import users as accounts
from workers.services import websites
from workers.store.db import session_scope

from .builds import deploy_and_wait
from .environment import ROOT, installation, valkey, worker

ROUNDS = 20
WEB_PROCESSES = 2


@dataclass(frozen=True)
class PromoteFigures:
    p50_ms: float
    max_ms: float
    call_p50_ms: float  # the promote call itself (its transaction and notice)
    rounds: int


@contextmanager
def web_process(port: int) -> Iterator[str]:
    """The API and the site server (as webbuilder_app.py wraps them) in a uvicorn process of its own."""
    argv = [sys.executable, "-m", "uvicorn", "--factory", "tests.api.site_server:create_app", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _answers(url), 30, "a web process to start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _until(check, seconds: float, what: str, pause: float = 0.01):
    deadline = time.monotonic() + seconds
    while not (result := check()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(pause)
    return result


def run(redis_url: str, rounds: int = ROUNDS, log=print) -> PromoteFigures:
    from tests.conftest import free_port

    with installation(redis_url) as workdir, worker(), ExitStack() as servers:
        with session_scope() as session:
            user = accounts.register(session, "bench", "password123")
            session.expunge(user)
        _, first = deploy_and_wait(user.id, static_site(workdir / "v1", "deployment one"))
        _, second = deploy_and_wait(user.id, static_site(workdir / "v2", "deployment two"), first.website_id)
        texts = {first.id: "deployment one", second.id: "deployment two"}
        site = websites.website(user, first.website_id)
        host = {"Host": site["url"].split("://", 1)[1].rstrip("/")}
        urls = [servers.enter_context(web_process(free_port())) for _ in range(WEB_PROCESSES)]

        def serving(url: str, text: str) -> bool:
            answer = httpx.get(url, headers=host, timeout=5)
            return answer.status_code == 200 and text in answer.text

        for url in urls:  # each process has the address cached before the first promote
            _until(lambda: serving(url, texts[second.id]), 10, "the stable address")
        latencies, calls = [], []
        live = second.id
        for _ in range(rounds):
            target = first.id if live == second.id else second.id
            began = time.perf_counter()
            websites.promote(user, first.website_id, target)
            calls.append(time.perf_counter() - began)
            slowest = 0.0
            for url in urls:
                _until(lambda: serving(url, texts[target]), 30, "the promoted deployment", pause=0.002)
                slowest = time.perf_counter() - began
            latencies.append(slowest)
            live = target
    figures = PromoteFigures(statistics.median(latencies) * 1000, max(latencies) * 1000, statistics.median(calls) * 1000, rounds)
    log(f"  promote → served by {WEB_PROCESSES} web processes: p50 {figures.p50_ms:.0f} ms, max {figures.max_ms:.0f} ms "
        f"(the promote call: p50 {figures.call_p50_ms:.0f} ms), {rounds} rounds")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.promote", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    with valkey() as url:
        run(url, parser.parse_args().rounds)
