"""Running one job's build and recording it: the steps are workers.build.steps'; this module gives
them a job's folders and a `JobRun`, which sends progress, the current step and the log tail to the
database as the build runs (renewing the job's lease), writes every output line to the job's log
file, and records each step's duration and outcome. A failure ends the job as `failed` with the
step's name and the tool's own words; the end notifies the user.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import OperationalError
from sqlmodel import col, desc, select

from workers.build import sandbox
from workers.build.steps import STEPS, ProjectBuild, StepFailed, Stopped
from workers.build.website_cache import WebsiteCache
from workers.config import settings
from workers.jobs import build_cache, deployments
from workers.notify.bell import notify, retry_action_url
from workers.queue.scheduler import renew_lease
from workers.store import events
from workers.store.db import retry_while_unreachable, session_scope
from workers.store.events import Change, Notice
from workers.store.files import job_dir, log_path, source_dir, website_cache_dir
from workers.store.models import BuildJob, JobStatus, Website, utcnow
from workers.text import strip_ansi

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 200
MAX_LOG_BYTES = 5 * 1024 * 1024
FLUSH_SECONDS = 0.25
_toolchain: str | None = None


@dataclass
class JobRun:
    """Book-keeping of one attempt: log file, log tail, progress and the heartbeat to the database."""

    job_id: int
    worker_id: str
    workdir: Path
    step: str = "extract"
    progress: int = 0
    tail_lines: list[str] = field(default_factory=list)
    steps: dict = field(default_factory=dict)
    _log_bytes: int = 0
    _last_flush: float = 0.0
    _dirty: bool = False
    _database_down: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        log_path(self.job_id).parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path(self.job_id), "a", encoding="utf-8")

    def line(self, text: str) -> None:
        with self._lock:
            if self._log_bytes < MAX_LOG_BYTES:
                self._log.write(text + "\n")
                self._log_bytes += len(text.encode("utf-8", errors="replace")) + 1
                if self._log_bytes >= MAX_LOG_BYTES:
                    self._log.write(f"[webbuilder] log truncated at {MAX_LOG_BYTES // (1024 * 1024)} MB\n")
            self.tail_lines.append(text[:2000])
            del self.tail_lines[:-LOG_TAIL_LINES]
            self._dirty = True

    def note(self, text: str) -> None:
        self.line(f"[webbuilder] {text}")

    def flush(self, force: bool = False) -> str | None:
        """Write progress and the log tail, renew the lease, and report a stop request."""
        now = time.monotonic()
        if not force and now - self._last_flush < FLUSH_SECONDS:
            return None
        self._last_flush = now
        with self._lock:
            self._log.flush()
            logs = "\n".join(self.tail_lines)
            dirty, self._dirty = self._dirty, False
        try:
            with session_scope() as session:
                if not renew_lease(session, self.job_id, self.worker_id):
                    return "lost lease"
                job = session.get(BuildJob, self.job_id)
                steps = {name: dict(info) for name, info in self.steps.items()}  # steps may run side by side
                job.progress, job.current_step, job.logs, job.steps = self.progress, self.step, logs, steps
                cancel = job.cancel_requested
                if dirty or force:  # progress notices are coalesced to one per flush
                    events.after_commit(session, Notice(Change.JOB, job.user_id, self.job_id))
        except OperationalError as exc:
            self._database_unreachable(exc)
            return None
        if self._database_down:
            self._database_down = False
            self.note("the database is reachable again")
        return "cancelled" if cancel else None

    def _database_unreachable(self, exc: OperationalError) -> None:
        """A database restart or failover is not the project's fault: the build carries on and the
        next flush writes what this one could not (past the lease, the job is someone else's)."""
        with self._lock:
            self._dirty = True
        if not self._database_down:
            self._database_down = True
            log.warning("job %s: database unreachable, building on: %s", self.job_id, str(exc).splitlines()[0])
            self.note("the database is unreachable; building on, progress is saved when it is back")

    def close(self) -> None:
        self._log.close()


class SharedCheck:
    """`JobRun.flush` for steps running side by side: one of them asks the database at a time, the
    other reads the last answer; a reason to stop, once given, stays."""

    def __init__(self, flush: Callable[[], str | None]):
        self.flush = flush
        self.lock = threading.Lock()
        self.reason: str | None = None

    def __call__(self) -> str | None:
        if self.reason is None and self.lock.acquire(blocking=False):
            try:
                self.reason = self.flush()
            finally:
                self.lock.release()
        return self.reason


class Pipeline:
    """A job's attempt: its `ProjectBuild`, recorded as it goes in a `JobRun` (progress, log, lease)."""

    def __init__(self, job: BuildJob, worker_id: str):
        self.cfg = settings()
        self.job = job
        attempt_dir = job_dir(job.id) / f"attempt-{job.attempts}"
        shutil.rmtree(attempt_dir, ignore_errors=True)
        self.run = JobRun(job.id, worker_id, attempt_dir / "project")
        caches = None if job.clean_build else WebsiteCache(website_cache_dir(job.website_id))
        self.build = ProjectBuild(source_dir(job.id), attempt_dir, f"job{job.id}-a{job.attempts}", self.run,
                                  time.monotonic() + self.cfg.build_timeout, self._miss_reason, caches)
        self.began: dict[str, float] = {}

    def _miss_reason(self, digest: str) -> str:
        """Why a lockfile is not in the cache, judged from the website's previous deployment."""
        previous = retry_while_unreachable(self._previous_install)
        old = (previous or {}).get("install") or {}
        if not old.get("cacheKey"):
            return "first build of this lockfile"
        if old["cacheKey"] != digest:
            return "lockfile changed since the last build"
        if old.get("status") != "done":
            return "the last install of this lockfile did not finish"
        return "evicted from the cache (least recently used)"

    def _previous_install(self) -> dict | None:
        with session_scope() as session:
            return session.exec(_previous_install_query(self.job)).first()

    def execute(self) -> None:
        try:
            for name, _, _ in STEPS:
                if name in self.run.steps:
                    continue  # it ran alongside the step before
                if partner := self.build.alongside(name):
                    self._side_by_side(name, partner)
                    continue
                self._begin(name)
                try:
                    getattr(self.build, name)()
                finally:
                    self._timed(name)
                self._done(name)
            self.build.keep_caches()
        finally:
            self.build.wait_for_cache()

    def _begin(self, *names: str) -> None:
        self.run.step, self.run.progress = names[0], PROGRESS[names[0]][0]
        for name in names:
            self.run.steps[name] = {"status": "running", "startedAt": utcnow().isoformat()}
            self.began[name] = time.monotonic()
        if stop := self.run.flush(force=True):
            raise Stopped(stop)

    def _timed(self, name: str, status: str | None = None) -> None:
        """Record the step's time (and `status`, if it ended without passing). The entry is
        replaced, not changed: a flush from a step running alongside may be reading it."""
        info = {**self.run.steps[name], "seconds": round(time.monotonic() - self.began[name], 3)}
        self.run.steps[name] = {**info, "status": status} if status else info

    def _done(self, name: str) -> None:
        info = dict(self.run.steps[name])
        info["status"] = "skipped" if info.pop("skipped", False) else "done"
        self.run.steps[name] = info
        self.run.progress = max(self.run.progress, PROGRESS[name][1])
        self.run.note(f"{name}: {info['status']} in {info['seconds']:.2f} s")

    def _side_by_side(self, first: str, second: str) -> None:
        """Run two steps at once, each in a thread of its own (and its tools in sandboxed processes
        of their own), ending as if they had run one after the other: a failure of `first` is the
        job's error whatever `second` did, and stops `second`; a failure of `second` counts once
        `first` passed. A cancel, a lost lease or the deadline stops both."""
        check = SharedCheck(self.run.flush)
        first_failed = threading.Event()
        outcomes: queue.SimpleQueue[tuple[str, BaseException | None]] = queue.SimpleQueue()

        def attempt(name: str, should_stop: Callable[[], str | None]) -> None:
            try:
                getattr(self.build, name)(should_stop=should_stop)
                outcomes.put((name, None))
            except BaseException as exc:  # handed to the pipeline's thread, raised there
                outcomes.put((name, exc))

        self._begin(first, second)
        threads = [
            threading.Thread(target=attempt, args=(first, check), name=f"{self.build.label}-{first}", daemon=True),
            threading.Thread(target=attempt, args=(second, lambda: "halted" if first_failed.is_set() else check()),
                             name=f"{self.build.label}-{second}", daemon=True),
        ]
        for thread in threads:
            thread.start()
        errors: dict[str, BaseException] = {}
        for _ in threads:
            name, error = outcomes.get()
            if error is None:
                self._timed(name)
                self._done(name)
                if name == first:
                    self.run.step = second
                continue
            errors[name] = error
            if name == first:
                self._timed(name)  # the job's error: run_job records how it ended
                first_failed.set()
            else:
                self._timed(name, "cancelled" if isinstance(error, Stopped) else "failed")
        for thread in threads:
            thread.join()
        if first in errors:
            self.run.step = first
            raise errors[first]
        if second in errors:
            raise errors[second]


PROGRESS = {name: (start, end) for name, start, end in STEPS}


def _previous_install_query(job: BuildJob):
    return (
        select(BuildJob.steps)
        .where(BuildJob.website_id == job.website_id, BuildJob.id != job.id, col(BuildJob.steps).is_not(None), col(BuildJob.build_cache).is_distinct_from("hit"))
        .order_by(desc(BuildJob.id))
        .limit(1)
    )


def run_job(job_id: int, worker_id: str) -> None:
    """Build a job this worker has claimed and record how it ended. The database writes at both ends
    wait out a short database outage (a restart): the build itself does not need the database."""
    job = retry_while_unreachable(lambda: _announce_start(job_id))
    pipeline = Pipeline(job, worker_id)
    pipeline.run.note(f"build {job.id} attempt {job.attempts} on {worker_id}")
    for line in sandbox.describe(pipeline.cfg.build_memory_mb, pipeline.cfg.build_pids_max, pipeline.cfg.build_disk_mb):
        pipeline.run.note(line)
    outcome, error, details = JobStatus.COMPLETED, None, []
    try:
        if refused := sandbox.refusal():
            raise sandbox.SandboxUnavailable(refused)
        pipeline.execute()
    except sandbox.SandboxUnavailable as exc:
        outcome, error = JobStatus.FAILED, str(exc)
    except StepFailed as exc:
        outcome, error, details = JobStatus.FAILED, f"{pipeline.run.step}: {exc}", exc.details
    except Stopped as exc:
        if exc.reason == "lost lease":
            pipeline.run.note("another worker owns this job now; stopping")
            pipeline.run.close()
            return
        outcome, error = JobStatus.CANCELLED, "cancelled by the user"
    except Exception as exc:  # a bug or a broken host, not the project: still end the job clearly
        log.exception("build %s crashed", job_id)
        outcome, error = JobStatus.FAILED, f"{pipeline.run.step}: internal error: {exc}"
    if error:
        pipeline.run.steps.get(pipeline.run.step, {})["status"] = "failed" if outcome == JobStatus.FAILED else "cancelled"
        pipeline.run.note(strip_ansi(error))
    pipeline.run.flush(force=True)
    retry_while_unreachable(lambda: finish(job_id, worker_id, outcome, pipeline, error, details))
    build_cache.release_followers()
    pipeline.run.close()
    # Deleting a big node_modules is slow: do it off the job's critical path. Earlier attempts' folders
    # (left by a worker that died) go too.
    threading.Thread(target=_remove_attempts, args=(job_id, job.attempts), daemon=True).start()


def _announce_start(job_id: int) -> BuildJob:
    with session_scope() as session:
        job = session.get(BuildJob, job_id)
        website = session.get(Website, job.website_id)
        notify(session, job, "started", f"{website.name} is building", f"Attempt {job.attempts}.", f"/jobs/{job.id}")
        return job


def _remove_attempts(job_id: int, last: int) -> None:
    """Attempts up to `last`: a later one may be running on another worker."""
    for number in range(1, last + 1):
        shutil.rmtree(job_dir(job_id) / f"attempt-{number}", ignore_errors=True)


def finish(job_id: int, worker_id: str, outcome: str, pipeline: Pipeline, error: str | None, details: list[dict]) -> None:
    with session_scope() as session:
        job = session.get(BuildJob, job_id)
        if job.worker_id != worker_id or job.status not in (JobStatus.BUILDING, JobStatus.RUNNING):
            return  # reaped and handed to someone else meanwhile
        website = session.get(Website, job.website_id)
        job.status, job.error, job.error_details = outcome, error, details or None
        job.completed_at = utcnow()
        job.lease_expires_at = None
        job.steps = dict(pipeline.run.steps)
        job.logs = "\n".join(pipeline.run.tail_lines)
        if outcome == JobStatus.COMPLETED:
            job.progress, job.current_step = 100, "completed"
            job.site_slug, job.preview_url, job.site_bytes = pipeline.build.site_slug, pipeline.build.preview_url, pipeline.build.site_bytes
            seconds = (job.completed_at - job.started_at).total_seconds()
            deployments.completed(session, job, website, f"Built in {seconds:.1f} s.")
        elif outcome == JobStatus.FAILED:
            job.current_step = f"failed at {pipeline.run.step}"
            first_line = strip_ansi(error or "").splitlines()[0][:300]
            notify(session, job, "failed", f"{website.name} failed to build", first_line, retry_action_url(job.id))
        else:
            job.current_step = "cancelled"
            notify(session, job, "cancelled", f"{website.name} cancelled", "Stopped while building.", f"/jobs/{job.id}")
        events.after_commit(session, Notice(Change.JOB, job.user_id, job_id))
