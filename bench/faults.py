"""Faults against the real processes: every job still ends, exactly once, and the UI comes back.

Four faults, each repeated (10 trials by default), each trial against the run command split into a
web process and a worker process (`python -m workers.runtime.supervise` with WEBBUILDER_ROLE=web / worker),
a private redis-server and, for the database fault, a private PostgreSQL cluster (never the
machine's shared servers):

- none: the control, the same trial without a fault.
- sigkill-worker: SIGKILL the worker process while it builds; the run command restarts it.
- redis-restart: restart Redis (no persistence, so every queued wake message is lost) while one
  job builds and others wait.
- web-restart: restart the web app's run command while a job builds.
- postgres-stop: stop PostgreSQL for 5 s while a job builds, then start it again.

Each trial signs up a new user who uploads 4 scripted projects through the API (one build slot: the
first builds for 4 s, so the fault lands mid-build with the other three queued) and follows every job with the CLI's live follower (the event
stream, resumed across disconnects), then checks, after the fault:
- every job terminal (none lost) within the deadline; failures are counted with their error;
- no duplicate build: never two build processes of one job at once (sampled from the host's
  processes), and no job published or announced as completed twice; a job re-run after its worker
  died is not a duplicate, its attempts count says so;
- the UI recovered: health and the app page answer, GET /user/queue shows the database's statuses,
  a new event stream opens, and every follower saw its job end with the database's status.
Recovery is timed from the fault to all jobs terminal, and to the web answering the current truth.

    python -m bench.faults [--trials 10] [--only none,sigkill-worker,redis-restart,web-restart,postgres-stop]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx
import psutil
import redis
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from tests.conftest import free_port, wait_for
from tests.integration.test_faults import building_with, notification_types, slow_build
from tests.projects import scripted_project
from webbuilder_cli.client import ApiClient, ApiError
from webbuilder_cli.progress import follow
from workers.store.db import session_scope
from workers.store.files import log_path
from workers.store.models import TERMINAL_STATUSES, BuildJob

from .environment import ROOT, installation

IN_FLIGHT_SECONDS = 4  # the build the fault hits
QUEUED_SECONDS = 0.5
QUEUED_JOBS = 3
POSTGRES_OUTAGE_SECONDS = 5
TRIAL_DEADLINE_SECONDS = 180
FOLLOWER_GRACE_SECONDS = 30  # after the jobs ended, for the CLI followers to see it
STARTUP_SECONDS = 300  # a first Reflex production build on a busy 2-core machine
PUBLISHED_NOTE = "[webbuilder] published at "
QUEUE, STREAM = "/api/website-builder/user/queue", "/api/website-builder/user/queue/stream"


# --- private servers and the run command -----------------------------------------------------------


class PrivateRedis:
    """A redis-server of this run only, keeping nothing on disk: a restart loses every queued
    message, as a Redis without persistence that crashed or was restarted would."""

    def __init__(self, folder: Path):
        self.folder, self.port, self.process = folder, free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.folder)]
        with open(self.folder / "redis.log", "ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self._answers, timeout=10, what="redis-server to answer")

    def _answers(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=1).ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class PrivatePostgres:
    """A PostgreSQL cluster of this run only (initdb into a temporary folder, run as user postgres),
    so it can be stopped without disturbing anyone else's database."""

    BIN = Path("/usr/lib/postgresql/15/bin")

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.data, self.sockets = folder / "data", folder / "sockets"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @classmethod
    def available(cls) -> bool:
        """initdb and pg_ctl are here, and this process may act as user postgres."""
        return os.geteuid() == 0 and (cls.BIN / "initdb").exists() and shutil.which("runuser") is not None

    def _as_postgres(self, *argv: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self.sockets.mkdir(parents=True)
        shutil.chown(self.folder, "postgres")
        shutil.chown(self.sockets, "postgres")
        self._as_postgres(str(self.BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1"
        self._as_postgres(str(self.BIN / "pg_ctl"), "-D", str(self.data), "-o", options,
                          "-l", str(self.folder / "postgres.log"), "-w", "start")

    def stop(self) -> None:
        self._as_postgres(str(self.BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    folder = Path(tempfile.mkdtemp(prefix="webbuilder-pg-"))
    server = PrivatePostgres(folder)
    try:
        server.init()
        server.start()
        yield server
    finally:
        try:
            server.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(folder, ignore_errors=True)


class RunCommand:
    """`python -m workers.runtime.supervise` in one role, with this process's environment (the installation)."""

    def __init__(self, role: str, log: Path):
        self.role, self.log, self.process = role, log, None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "workers.runtime.supervise"], cwd=ROOT,
                                            env={**os.environ, "WEBBUILDER_ROLE": self.role},
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM, as Ctrl-C or systemctl would; whatever outlives the grace period is killed."""
        if not self.alive():
            return
        try:
            leftovers = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            leftovers = []
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for proc in leftovers:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass


# --- one fault's installation ----------------------------------------------------------------------


@dataclass
class Stack:
    url: str
    web: RunCommand
    redis: PrivateRedis
    postgres: PrivatePostgres | None
    workdir: Path
    logs: Path


def web_answers(url: str) -> bool:
    """The health endpoint and the app's page both answer 200."""
    try:
        return httpx.get(f"{url}/api/health", timeout=5).status_code == 200 and httpx.get(url, timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until_web_answers(stack: Stack, timeout: float) -> None:
    def up() -> bool:
        if not stack.web.alive():
            raise SystemExit(f"the web app exited; see {stack.web.log}")
        return web_answers(stack.url)

    wait_for(up, timeout=timeout, interval=0.5, what="the web app to answer")


@contextmanager
def fault_stack(name: str, logs: Path, reflex_dir: Path, postgres: bool) -> Iterator[Stack]:
    """A fresh data folder and database, a private Redis, and the web half of the run command.
    Reflex's build folder is shared by the faults (one frontend build), its state folder is not."""
    with tempfile.TemporaryDirectory(prefix="webbuilder-redis-") as redis_dir, maybe_private_postgres(postgres) as pg:
        server = PrivateRedis(Path(redis_dir))
        server.start()
        port = free_port()
        settings = {
            "PORT": str(port),
            "WEBBUILDER_MAX_CONCURRENT_BUILDS": "1",  # the fault finds one job building and the rest queued
            "DATABASE_URL": pg.url if pg else "",
            "REFLEX_WEB_WORKDIR": str(reflex_dir / ".web"),
            "REFLEX_STATES_WORKDIR": str(reflex_dir / f".states-{name}"),
        }
        try:
            with installation(server.url, **settings) as workdir:
                stack = Stack(f"http://localhost:{port}", RunCommand("web", logs / f"{name}-web.log"), server, pg, workdir, logs)
                stack.web.start()
                try:
                    wait_until_web_answers(stack, STARTUP_SECONDS)
                    yield stack
                finally:
                    stack.web.stop()
        finally:
            server.stop()


@contextmanager
def maybe_private_postgres(wanted: bool) -> Iterator[PrivatePostgres | None]:
    if not wanted:
        yield None
        return
    with private_postgres() as server:
        yield server


# --- watching a trial --------------------------------------------------------------------------------


class BuildWatch(threading.Thread):
    """Samples the host's processes for each job's build script (its marker is on the command line)
    and keeps the most seen at once: two means two attempts of one job ran at the same time."""

    def __init__(self, markers: list[str]):
        super().__init__(daemon=True)
        self.most = dict.fromkeys(markers, 0)
        self._finished = threading.Event()

    def run(self) -> None:
        while not self._finished.wait(0.2):
            seen = Counter()
            for proc in psutil.process_iter(["cmdline"]):
                for marker in set(proc.info["cmdline"] or ()) & self.most.keys():
                    seen[marker] += 1
            for marker, count in seen.items():
                self.most[marker] = max(self.most[marker], count)

    def stop(self) -> dict[str, int]:
        self._finished.set()
        self.join()
        return self.most


class Follower(threading.Thread):
    """`webbuilder submit --wait`'s live view of one job: the event stream, resumed when it drops."""

    def __init__(self, url: str, token: str, job_id: int):
        super().__init__(daemon=True)
        self.client, self.job_id = ApiClient(url, token, timeout=10), job_id
        self.outcome: str | None = None  # the final status it saw, or why it gave up

    def run(self) -> None:
        try:
            self.outcome = follow(self.client, self.job_id, Console(file=io.StringIO()))["status"]
        except Exception as exc:
            self.outcome = f"gave up: {exc}"
        finally:
            self.client.close()


def db_jobs(job_ids: list[int]) -> dict[int, BuildJob]:
    with session_scope() as session:
        return {job_id: session.get(BuildJob, job_id) for job_id in job_ids}


def db_statuses(job_ids: list[int]) -> dict[int, str]:
    return {job_id: job.status for job_id, job in db_jobs(job_ids).items()}


def web_shows_truth(client: ApiClient, url: str, job_ids: list[int]) -> bool:
    """The app answers, the queue API shows what the database says, and a new event stream opens."""
    try:
        if not web_answers(url):
            return False
        queue = client.queue()
        shown = {view["id"]: view["status"] for view in queue["activeJobs"] + queue["completedJobs"]}
        if shown != db_statuses(job_ids):
            return False
        with client.events() as stream:
            return any(event is not None and event.event == "ready" for event in stream)
    except (ApiError, httpx.HTTPError, SQLAlchemyError):
        return False


def probe(client: ApiClient) -> str:
    """What a client gets from the queue API and the event stream at this moment."""

    def status(call: Callable[[], int]) -> str:
        try:
            return str(call())
        except httpx.HTTPError as exc:
            return "refused" if isinstance(exc, httpx.ConnectError) else type(exc).__name__

    def stream_status() -> int:
        with client.http.stream("GET", STREAM, timeout=10) as response:
            return response.status_code

    return f"queue {status(lambda: client.http.get(QUEUE, timeout=10).status_code)}, stream {status(stream_status)}"


# --- the faults ----------------------------------------------------------------------------------------


@dataclass
class Trial:
    stack: Stack
    client: ApiClient
    worker_pid: int  # the worker process building the first job


def no_fault(trial: Trial) -> str:
    """The control: what the same trial takes when nothing fails."""
    return probe(trial.client)


def kill_worker(trial: Trial) -> str:
    os.kill(trial.worker_pid, signal.SIGKILL)
    return probe(trial.client)


def restart_redis(trial: Trial) -> str:
    trial.stack.redis.stop()
    seen = probe(trial.client)
    trial.stack.redis.start()
    return seen


def restart_web(trial: Trial) -> str:
    trial.stack.web.stop()
    seen = probe(trial.client)
    trial.stack.web.start()
    return seen


def stop_postgres(trial: Trial) -> str:
    postgres = trial.stack.postgres
    postgres.stop()
    back_at = time.monotonic() + POSTGRES_OUTAGE_SECONDS
    seen = probe(trial.client)
    time.sleep(max(0.0, back_at - time.monotonic()))  # the length of the outage, not a synchronisation
    postgres.start()
    return seen


@dataclass(frozen=True)
class Fault:
    name: str
    title: str
    inject: Callable[[Trial], str]  # returns what the web API answered during the fault
    postgres: bool = False


FAULTS = {
    fault.name: fault
    for fault in (
        Fault("none", "no fault (control)", no_fault),
        Fault("sigkill-worker", "SIGKILL a worker mid-build", kill_worker),
        Fault("redis-restart", "restart Redis with jobs queued", restart_redis),
        Fault("web-restart", "restart the web app mid-build", restart_web),
        Fault("postgres-stop", f"stop PostgreSQL for {POSTGRES_OUTAGE_SECONDS} s mid-build", stop_postgres, postgres=True),
    )
}


# --- a trial ----------------------------------------------------------------------------------------------


@dataclass
class TrialResult:
    statuses: dict[int, str]
    queued_at_fault: int
    causes: list[str]
    duplicates: int
    reruns: int
    ui_recovered: bool
    during: str
    terminal_after: float | None  # seconds from the fault
    ui_after: float | None
    notes: list[str]  # what the figures do not say: a follower's view, a build never seen running


def upload_jobs(client: ApiClient, folder: Path) -> dict[int, str]:
    """The trial's jobs (job id → marker of its build process): one slow build, then quick ones."""
    jobs = {}
    for n, seconds in enumerate([IN_FLIGHT_SECONDS, *[QUEUED_SECONDS] * QUEUED_JOBS]):
        marker = f"wb-fault-{uuid.uuid4().hex}"  # also makes every upload distinct (no build-cache hit)
        project = scripted_project(folder / f"site{n}", slow_build(seconds, f"site {n}"), marker)
        jobs[client.upload(project, f"Site {n}")["website"]["buildJobId"]] = marker
    return jobs


def run_trial(stack: Stack, fault: Fault, index: int) -> TrialResult:
    token = httpx.post(f"{stack.url}/api/auth/register", json={"username": f"{fault.name}-{index}", "password": "password123"},
                       timeout=30).json()["token"]
    client = ApiClient(stack.url, token, timeout=10)
    worker = RunCommand("worker", stack.logs / f"{fault.name}-worker-{index}.log")
    worker.start()
    try:
        jobs = upload_jobs(client, stack.workdir / "projects" / str(index))
        job_ids = list(jobs)
        followers = [Follower(stack.url, token, job_id) for job_id in job_ids]
        for follower in followers:
            follower.start()
        watch = BuildWatch(list(jobs.values()))
        watch.start()
        first, marker = next(iter(jobs.items()))
        pid = wait_for(lambda: building_with(first, 1, marker), timeout=120, what="the first job to build")
        queued = list(db_statuses(job_ids).values()).count("queued")
        fault_at = time.monotonic()
        during = fault.inject(Trial(stack, client, pid))
        return observe(stack, client, jobs, followers, watch, fault_at, during, queued)
    finally:
        worker.stop()
        client.close()


def observe(stack: Stack, client: ApiClient, jobs: dict[int, str], followers: list[Follower], watch: BuildWatch,
            fault_at: float, during: str, queued: int) -> TrialResult:
    """After the fault: wait for every job to end and the web to show it, then judge the trial."""
    job_ids = list(jobs)
    reached: dict[str, float] = {}

    def recovered() -> bool:
        now = time.monotonic() - fault_at
        if "terminal" not in reached:
            try:
                if all(status in TERMINAL_STATUSES for status in db_statuses(job_ids).values()):
                    reached["terminal"] = now
            except SQLAlchemyError:
                pass
        truthful = web_shows_truth(client, stack.url, job_ids)
        if truthful:
            reached.setdefault("ui", now)
        return truthful and "terminal" in reached  # the web shows every job's end

    try:
        wait_for(recovered, timeout=TRIAL_DEADLINE_SECONDS, interval=0.2, what="every job to end and the web to show it")
    except AssertionError:
        pass  # judged below: lost jobs, UI not recovered
    for follower in followers:
        follower.join(timeout=max(0.1, fault_at + TRIAL_DEADLINE_SECONDS + FOLLOWER_GRACE_SECONDS - time.monotonic()))
    most_at_once = watch.stop()
    rows = db_jobs(job_ids)
    statuses = {job_id: job.status for job_id, job in rows.items()}
    unseen = [f"job {f.job_id}: the CLI follower saw {f.outcome or 'no end'}, the database says {statuses[f.job_id]}"
              for f in followers if f.outcome != statuses[f.job_id]]
    blind = [f"job {job_id}: its build process was never seen running" for job_id, job in rows.items()
             if job.status == "completed" and most_at_once[jobs[job_id]] == 0]
    duplicates = sum(
        1 for job_id, job in rows.items()
        if most_at_once[jobs[job_id]] > 1 or published_count(job_id) > 1
        or notification_types(job.user_id, job_id).count("completed") > 1
    )
    return TrialResult(
        statuses=statuses,
        queued_at_fault=queued,
        causes=[(job.error or "no error recorded").splitlines()[0][:100] for job in rows.values() if job.status == "failed"],
        duplicates=duplicates,
        reruns=sum(max(0, job.attempts - 1) for job in rows.values()),
        ui_recovered="ui" in reached and "terminal" in reached and not unseen,
        during=during,
        terminal_after=reached.get("terminal"),
        ui_after=reached.get("ui"),
        notes=unseen + blind,
    )


def published_count(job_id: int) -> int:
    """How many attempts of the job published a site (the job's log keeps every attempt)."""
    log = log_path(job_id)
    return log.read_text(errors="replace").count(PUBLISHED_NOTE) if log.exists() else 0


# --- the suite and its table ---------------------------------------------------------------------------


@dataclass
class FaultSummary:
    fault: Fault
    results: list[TrialResult]

    def row(self) -> str:
        results = self.results
        statuses = [status for r in results for status in r.statuses.values()]
        causes = Counter(cause for r in results for cause in r.causes)
        failed = sum(causes.values())
        failed_text = f"{failed}" + (" (" + "; ".join(f"{n}× {cause}" for cause, n in causes.items()) + ")" if causes else "")
        during = Counter(r.during for r in results)
        return "| " + " | ".join([
            self.fault.title,
            str(len(results)),
            f"{len(statuses)} ({sum(r.queued_at_fault for r in results)} queued at the fault)",
            str(statuses.count("completed")),
            failed_text,
            str(sum(status not in TERMINAL_STATUSES for status in statuses)),
            str(sum(r.duplicates for r in results)),
            f"{sum(r.ui_recovered for r in results)}/{len(results)}",
            str(sum(r.reruns for r in results)),
            "; ".join(f"{text}" + (f" ({n}×)" if n != len(results) else "") for text, n in during.items()),
            _median([r.terminal_after for r in results]),
            _median([r.ui_after for r in results]),
        ]) + " |"


HEADER = ("| fault | trials | jobs | completed | failed (causes) | lost | duplicate builds | UI recovered | re-run attempts "
          "| web API during the fault | median fault → all jobs terminal | median fault → web shows current truth |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|")


def _median(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    text = f"{statistics.median(known):.1f} s (max {max(known):.1f} s)" if known else "never"
    missing = len(values) - len(known)
    return text + (f", {missing} never" if missing and known else "")


def _seconds(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "never"


def describe(result: TrialResult) -> str:
    """One progress line per trial."""
    counts = Counter(result.statuses.values())
    lost = sum(status not in TERMINAL_STATUSES for status in result.statuses.values())
    line = (f"{result.queued_at_fault} queued at the fault; {counts['completed']} completed, {counts['failed']} failed, {lost} lost, {result.duplicates} duplicate, "
            f"{result.reruns} re-run; UI {'recovered' if result.ui_recovered else 'NOT recovered'}; terminal after "
            f"{_seconds(result.terminal_after)}, web truthful after {_seconds(result.ui_after)}; during: {result.during}")
    return "; ".join([line, *result.causes, *result.notes])


def run(names: list[str], trials: int) -> list[FaultSummary]:
    logs = Path(tempfile.mkdtemp(prefix="webbuilder-faults-"))  # kept: the processes' logs
    print(f"logs in {logs}", flush=True)
    summaries = []
    with tempfile.TemporaryDirectory(prefix="webbuilder-faults-reflex-") as reflex_dir:
        for name in names:
            fault = FAULTS[name]
            if fault.postgres and not PrivatePostgres.available():
                print(f"{name}: skipped (needs root and PostgreSQL 15's initdb for a private cluster)", flush=True)
                continue
            print(f"{name}: starting the web app", flush=True)
            with fault_stack(name, logs, Path(reflex_dir), fault.postgres) as stack:
                results = []
                for index in range(1, trials + 1):
                    results.append(run_trial(stack, fault, index))
                    print(f"  {name} {index}/{trials}: {describe(results[-1])}", flush=True)
            summaries.append(FaultSummary(fault, results))
    return summaries


def report(summaries: list[FaultSummary]) -> str:
    one, five, _ = os.getloadavg()
    return "\n".join([
        f"Command: `{' '.join(['.venv/bin/python -m bench.faults', *sys.argv[1:]])}`, "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average {one:.2f} / {five:.2f} at the end, {psutil.cpu_count()} CPUs.",
        "",
        HEADER,
        *(summary.row() for summary in summaries),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--only", default=",".join(FAULTS), help="comma-separated: " + ", ".join(FAULTS))
    args = parser.parse_args()
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in names if name not in FAULTS]
    if unknown:
        parser.error(f"unknown fault(s): {', '.join(unknown)}")
    print("\n" + report(run(names, args.trials)))


if __name__ == "__main__":
    main()
