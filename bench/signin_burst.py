"""Sign-ins cannot stall the app: another user's page loads while sign-ins arrive as fast as the
password pool serves them.

Starts the web half of the app (the run command's supervisor on a fresh data folder and Valkey),
signs up a reader and a sign-in user, then times the reader's page loads, one after another: GET
/api/website-builder/user/queue with its bearer token, and GET / (the app's page). In ROUNDS rounds,
idle, then while CLIENTS sign-in clients each send POST /api/auth/login as soon as their last one is
answered, alternately with the right password and with a wrong one for a name that does not exist
(each costs a full argon2 verify); interleaving the two keeps other load on a shared machine from
falling on one side only. CLIENTS defaults to the server's password pool capacity (workers + waiting,
workers/passwords.py), so the pool is always busy yet nobody is turned away; with more, the excess
is answered 503. The sign-in clients run in a process of their own, as guessers elsewhere would, so
they do not share the timing process's GIL. Every client is 127.0.0.1, so the run raises the
per-address sign-in limit.

    python -m bench.signin_burst [--samples 250] [--clients N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import threading
import time
from dataclasses import dataclass

import httpx

from workers.accounts import passwords

from .environment import BENCH_SETTINGS
from .live_latency import _percentile, running_app

PASSWORD = "password123"
ROUNDS = 5
READER, SIGNER = "bench-reader", "bench-signer"
PAGES = {"queue API": "/api/website-builder/user/queue", "app page": "/"}
PAUSE_SECONDS = 0.02  # between two rounds of page loads: a user clicking around, not a load generator
LIMITS = {"WEBBUILDER_LOGIN_CLIENT_FAILURES": "1000000000", "WEBBUILDER_LOGIN_ACCOUNT_FAILURES": "1000000000"}


@dataclass(frozen=True)
class Percentiles:
    p50_ms: float
    p95_ms: float

    @classmethod
    def of(cls, latencies: list[float]) -> Percentiles:
        return cls(statistics.median(latencies), _percentile(latencies, 0.95))


@dataclass(frozen=True)
class SigninBurstResult:
    clients: int
    samples: int
    idle: dict[str, Percentiles]
    burst: dict[str, Percentiles]
    signins_per_second: float
    busy: int  # answered 503
    other: int  # answered anything but 200, 401 or 503
    load_before: float
    load_after: float

    def ratio(self, page: str) -> float:
        return self.burst[page].p95_ms / self.idle[page].p95_ms


def _register(url: str, username: str) -> str:
    answer = httpx.post(f"{url}/api/auth/register", json={"username": username, "password": PASSWORD}, timeout=30)
    answer.raise_for_status()
    return answer.json()["token"]


def _page_loads(http: httpx.Client, token: str, samples: int) -> dict[str, list[float]]:
    latencies: dict[str, list[float]] = {page: [] for page in PAGES}
    for _ in range(samples):
        for page, path in PAGES.items():
            started = time.perf_counter()
            http.get(path, headers={"Authorization": f"Bearer {token}"}).raise_for_status()
            latencies[page].append((time.perf_counter() - started) * 1000)
        time.sleep(PAUSE_SECONDS)
    return latencies


def _sign_in_until(url: str, stop: threading.Event, answers: list[tuple[float, int]], client: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        attempt = 0
        while not stop.is_set():
            right = attempt % 2 == 0
            body = {"username": SIGNER, "password": PASSWORD} if right else {"username": f"guess-{client}-{attempt}", "password": "wrong-password"}
            status = http.post("/api/auth/login", json=body).status_code
            answers.append((time.monotonic(), status))  # list.append is atomic
            attempt += 1


def _signers(url: str, clients: int, round_: int, stop, full, results) -> None:
    """In a process of its own: `clients` threads signing in until `stop`; `full` is set once the pool
    has been kept busy a while; the answers go to `results`."""
    stop_threads, answers = threading.Event(), []
    signers = [threading.Thread(target=_sign_in_until, args=(url, stop_threads, answers, round_ * 1000 + n)) for n in range(clients)]
    for signer in signers:
        signer.start()
    while len(answers) < 2 * clients and not stop.is_set():
        time.sleep(0.05)
    full.set()
    stop.wait()
    stop_threads.set()
    for signer in signers:
        signer.join()
    results.put(answers)


def _during_burst(url: str, http: httpx.Client, reader: str, samples: int, clients: int, round_: int) -> tuple[dict[str, list[float]], list[int], float]:
    """Page loads while `clients` sign in back to back; also the sign-ins' answers meanwhile and how
    long the page loads took in all."""
    context = multiprocessing.get_context("spawn")
    stop, full, results = context.Event(), context.Event(), context.Queue()
    process = context.Process(target=_signers, args=(url, clients, round_, stop, full, results))
    process.start()
    if not full.wait(timeout=60):
        stop.set()
        raise SystemExit("the sign-ins got too few answers within 60 s")
    began = time.monotonic()  # CLOCK_MONOTONIC: the same clock in every process
    latencies = _page_loads(http, reader, samples)
    ended = time.monotonic()
    stop.set()
    answers = results.get(timeout=60)
    process.join()
    return latencies, [status for moment, status in answers if began <= moment <= ended], ended - began


def run(samples: int = 250, clients: int = passwords.WORKERS + passwords.MAX_WAITING) -> SigninBurstResult:
    idle: dict[str, list[float]] = {page: [] for page in PAGES}
    burst: dict[str, list[float]] = {page: [] for page in PAGES}
    during, seconds = [], 0.0
    with running_app(role="web", **BENCH_SETTINGS, **LIMITS) as (url, _env), httpx.Client(base_url=url, timeout=30) as http:
        reader = _register(url, READER)
        _register(url, SIGNER)
        _page_loads(http, reader, 20)  # warm-up
        load_before = os.getloadavg()[0]
        for round_ in range(ROUNDS):
            for page, values in _page_loads(http, reader, samples // ROUNDS).items():
                idle[page] += values
            latencies, answers, elapsed = _during_burst(url, http, reader, samples // ROUNDS, clients, round_)
            for page, values in latencies.items():
                burst[page] += values
            during, seconds = during + answers, seconds + elapsed
        load_after = os.getloadavg()[0]

    return SigninBurstResult(
        clients=clients,
        samples=len(idle["app page"]),
        idle={page: Percentiles.of(values) for page, values in idle.items()},
        burst={page: Percentiles.of(values) for page, values in burst.items()},
        signins_per_second=sum(1 for status in during if status in (200, 401)) / seconds,
        busy=sum(1 for status in during if status == 503),
        other=sum(1 for status in during if status not in (200, 401, 503)),
        load_before=load_before,
        load_after=load_after,
    )


def report(result: SigninBurstResult) -> str:
    lines = [
        "| page load | idle p50 | idle p95 | burst p50 | burst p95 | p95 burst ÷ idle (target ≤ 2) |",
        "|---|---|---|---|---|---|",
    ]
    for page in PAGES:
        idle, burst = result.idle[page], result.burst[page]
        lines.append(f"| {page} | {idle.p50_ms:.1f} ms | {idle.p95_ms:.1f} ms | {burst.p50_ms:.1f} ms | {burst.p95_ms:.1f} ms "
                     f"| **{result.ratio(page):.2f}** |")
    lines += [
        "",
        f"{result.samples} loads of each page idle and as many during the burst, in {ROUNDS} alternating rounds; "
        f"{result.clients} sign-in clients served "
        f"**{result.signins_per_second:.1f} sign-ins/s** (half right, half wrong passwords), {result.busy} answered 503 busy, "
        f"{result.other} anything else; load average {result.load_before:.2f} before, {result.load_after:.2f} after; "
        f"{os.cpu_count()} CPUs.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.signin_burst", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=250, help="loads of each page, idle and during the burst")
    parser.add_argument("--clients", type=int, default=passwords.WORKERS + passwords.MAX_WAITING,
                        help="sign-in clients, each sending its next sign-in when the last is answered")
    args = parser.parse_args()
    print(report(run(args.samples, args.clients)))


if __name__ == "__main__":
    main()
