"""The build of one job: extract → install → type check → build → publish.

Each step records its duration and outcome in `steps`, progress and the current step go to the
database as the build runs, and every output line goes to the job's log file and the log tail in the
database. A failure ends the job as `failed` with the step's name and the tool's own words.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import OperationalError
from sqlmodel import col, desc, select

from workers.build import install_policy, publishing, sandbox
from workers.build.deps_cache import CacheKey, DependencyCache, Installed, key_for, tool_versions
from workers.build.diagnostics import npm_error_text, tail, tsc_errors, vite_errors
from workers.build.egress_proxy import Allowlist, EgressProxy
from workers.build.runner import RunResult, run
from workers.config import settings
from workers.jobs import build_cache, quotas
from workers.notify.bell import notify, retry_action_url
from workers.queue.scheduler import renew_lease
from workers.store import events
from workers.store.db import retry_while_unreachable, session_scope
from workers.store.events import Change, Notice
from workers.store.files import job_dir, log_path, source_dir
from workers.store.models import BuildJob, JobStatus, Website, utcnow
from workers.text import strip_ansi

log = logging.getLogger(__name__)

# (step, progress when it starts, progress when it ends)
STEPS = (("extract", 0, 10), ("install", 10, 50), ("typecheck", 50, 65), ("build", 65, 90), ("publish", 90, 100))
STEP_RANGE = {name: (start, end) for name, start, end in STEPS}
LOG_TAIL_LINES = 200
# Vite's templates build with "tsc -b && vite build". The typecheck step runs that same check (with
# diagnostics parsed), so repeating it would only add ~2 s: the build step then runs vite alone.
TYPECHECK_THEN_VITE = {"tsc -b && vite build", "tsc && vite build"}
OUTPUT_FOLDERS = ("dist", "build", "out")
FILE_TOO_LARGE = ("File too large", "File size limit exceeded")  # EFBIG, SIGXFSZ: RLIMIT_FSIZE was hit
NO_SPACE = "No space left on device"  # ENOSPC: the step's /tmp is full (or the host's disk)
MAX_LOG_BYTES = 5 * 1024 * 1024
FLUSH_SECONDS = 0.25
_toolchain: str | None = None


class StepFailed(Exception):
    def __init__(self, message: str, details: list[dict] | None = None):
        super().__init__(message)
        self.details = details or []


class Stopped(Exception):
    """The build was stopped from outside (cancel, lease lost); not the project's fault."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def toolchain() -> str:
    global _toolchain
    if _toolchain is None:
        _toolchain = tool_versions()
    return _toolchain


def build_env(home: Path, npm_cache: Path) -> dict[str, str]:
    """A cleared environment: the build sees nothing of the app's settings or secrets."""
    return {
        "PATH": sandbox.BUILD_PATH,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "CI": "1",
        "npm_config_cache": str(npm_cache),
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }


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
                job.progress, job.current_step, job.logs, job.steps = self.progress, self.step, logs, dict(self.steps)
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


class Pipeline:
    def __init__(self, job: BuildJob, worker_id: str):
        self.cfg = settings()
        self.job = job
        attempt_dir = job_dir(job.id) / f"attempt-{job.attempts}"
        shutil.rmtree(attempt_dir, ignore_errors=True)
        self.workdir = attempt_dir / "project"
        self.home = attempt_dir / "home"
        self.run = JobRun(job.id, worker_id, self.workdir)
        self.deadline = time.monotonic() + self.cfg.build_timeout
        self.output_dir: Path | None = None
        self.storing: threading.Thread | None = None

    # -- steps ------------------------------------------------------------------------------------

    def extract(self) -> None:
        shutil.copytree(source_dir(self.job.id), self.workdir, symlinks=False)
        self.home.mkdir(parents=True, exist_ok=True)
        sandbox.hand_over(self.workdir, self.home)
        files = sum(1 for p in self.workdir.rglob("*") if p.is_file())
        self.run.note(f"{files} files ready in the build folder")

    def _package(self) -> dict | None:
        path = self.workdir / "package.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def install(self) -> None:
        """Restore node_modules from the dependency cache when the lockfile (and Node/npm) were seen
        before; otherwise install with npm and offer the result to the cache."""
        if self._package() is None:
            self.run.note("no package.json: a static site, nothing to install")
            self.run.steps["install"]["skipped"] = True
            return
        rules = install_policy.policy(self.cfg.npm_registry, self.cfg.install_egress_allow, self.cfg.install_allow_remote_deps)
        try:
            sources = install_policy.check_sources(self.workdir, rules)
        except install_policy.DependencyRefused as exc:
            raise StepFailed(f"install refused: {exc}") from None
        settings_files = install_policy.sanitise_config(self.workdir, rules)
        if settings_files.dropped:
            self.run.note("ignored project settings the service decides itself: " + ", ".join(settings_files.dropped))
        cache = DependencyCache(self.cfg.cache_dir, self.cfg.deps_cache_mb * 1024 * 1024)
        command = ["npm", "ci"] if (self.workdir / "package-lock.json").is_file() else ["npm", "install"]
        argv = [*command, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"]
        key = key_for(self.workdir, "\n".join([toolchain(), " ".join(argv), settings_files.effective]))
        if sources.local:  # their files are the project's own: another user's lockfile must not get them
            key = CacheKey(None, "local file: dependencies are not cached")
        info = self.run.steps["install"]
        if key.digest:
            info["cacheKey"] = key.digest
            if cache.restore(key.digest, self.workdir):
                sandbox.seal(self.workdir / "node_modules")
                info.update(cache="hit", cacheReason=f"dependencies of lockfile {key.digest[:12]} were cached")
                self.run.note(f"dependencies restored from cache (lockfile {key.digest[:12]})")
                return
        info.update(cache="miss", cacheReason=key.reason or self._miss_reason(key.digest))
        self.run.note(f"dependency cache miss: {info['cacheReason']}")
        result = self.tool(argv, egress=rules.allowlist(), egress_env=rules.env(), npm_cache_shared=True)
        if not result.ok:
            lines = self.run.tail_lines
            raise StepFailed(f"{' '.join(command)} failed:\n{npm_error_text(lines) or tail(lines)}")
        sandbox.seal(self.workdir / "node_modules")  # before the cache shares its files
        if key.digest:
            self._store_meanwhile(cache, key.digest)

    def _store_meanwhile(self, cache: DependencyCache, digest: str) -> None:
        """Offer the fresh node_modules to the dependency cache while the type check runs (tsc uses
        one core of two): linking and checking the tree cost the cold job ~0.1 s, more on a loaded
        host. The tree is recorded now, before any later step runs in the folder, and only an exact
        copy of the record is kept (see deps_cache). `execute` waits for it before the job ends and
        its folder can be deleted. A cache failure costs a later build time, never this build."""
        installed = Installed.record(self.workdir / "node_modules")
        if not installed.entries:
            return  # nothing installed, nothing worth caching

        def store() -> None:
            try:
                if not cache.store(digest, installed) and not cache.contains(digest):
                    self.run.note("node_modules changed while it was being cached: not cached")
            except Exception:
                log.exception("job %s: storing node_modules in the dependency cache failed", self.job.id)

        self.storing = threading.Thread(target=store, name=f"deps-cache-job{self.job.id}", daemon=True)
        self.storing.start()

    def _miss_reason(self, digest: str) -> str:
        """Why a lockfile is not in the cache, judged from this user's previous build of a website
        with the same name (each upload creates a new website row)."""
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

    def typecheck(self) -> None:
        tsconfig = self.workdir / "tsconfig.json"
        tsc = self.workdir / "node_modules" / ".bin" / "tsc"
        if not tsconfig.is_file():
            self.run.note("no tsconfig.json: type check skipped")
            self.run.steps["typecheck"]["skipped"] = True
            return
        if not tsc.exists():
            self.run.note("tsconfig.json found but typescript is not installed: type check skipped")
            self.run.steps["typecheck"]["skipped"] = True
            return
        # Project references (Vite's react-ts template) make `tsc --noEmit` check nothing: use -b.
        argv = [str(tsc), "-b"] if '"references"' in tsconfig.read_text(errors="replace") else [str(tsc), "--noEmit"]
        start = len(self.run.tail_lines)
        result = self.tool([*argv, "--pretty", "false"])
        if not result.ok:
            lines = self.run.tail_lines[start:] or self.run.tail_lines
            errors = tsc_errors(lines)
            summary = "\n".join(f"{e['file']}({e['line']},{e['column']}): {e['code']} {e['message']}" for e in errors[:20])
            raise StepFailed(f"type check failed with {len(errors) or 'an'} error(s):\n{summary or tail(lines)}", errors)

    def build(self) -> None:
        package = self._package()
        if package is None:
            self.output_dir = self.workdir
            self.run.steps["build"]["skipped"] = True
            self.run.note("static site: publishing the upload as it is")
            return
        script = " ".join(str((package.get("scripts") or {}).get("build") or "").split())
        vite_build = [str(self.workdir / "node_modules" / ".bin" / "vite"), "build"]
        if script in TYPECHECK_THEN_VITE and self.run.steps["typecheck"].get("status") == "done":
            self.run.note(f'build script "{script}": its type check just passed in the typecheck step; running vite build')
            argv = vite_build
        elif script:
            argv = ["npm", "run", "build"]
        else:
            argv = vite_build
        start = len(self.run.tail_lines)
        egress = Allowlist(self.cfg.build_egress_allow)
        # NODE_USE_ENV_PROXY: Node 24's own fetch honours the proxy variables with it; Node 20's ignores them.
        result = self.tool(argv, egress=egress or None, egress_env={**install_policy.proxy_env(), "NODE_USE_ENV_PROXY": "1"})
        lines = self.run.tail_lines[start:] or self.run.tail_lines
        if not result.ok:
            errors = tsc_errors(lines) or vite_errors(lines, str(self.workdir))
            raise StepFailed(f"{' '.join(Path(a).name if '/' in a else a for a in argv)} failed:\n{tail(lines)}", errors)
        self.output_dir = _output_folder(self.workdir)

    def publish(self) -> None:
        """Copy the output, read inside the sandbox, as plain files within the site caps (see
        workers/publishing.py), on the build's deadline and lease."""
        label = f"job{self.job.id}-a{self.job.attempts}-publish"
        try:
            slug, published = publishing.new_site(
                self.cfg.sites_dir, lambda staging: publishing.collect(self.output_dir, self.workdir, staging, label, self._still_running))
        except (publishing.SiteRefused, sandbox.SandboxUnavailable) as exc:
            raise StepFailed(str(exc)) from None
        if left := published.left_note():
            self.run.note(left)
        self.job.site_slug, self.job.site_bytes = slug, quotas.tree_bytes(self.cfg.sites_dir / slug)
        self.job.preview_url = self.cfg.preview_url(slug)
        self.run.note(f"published at {self.job.preview_url}")

    # -- running ----------------------------------------------------------------------------------

    def _still_running(self) -> None:
        """Checked while the worker itself works for the build: its deadline, a cancel, and the
        lease (renewed here)."""
        if time.monotonic() > self.deadline:
            raise StepFailed(f"timed out after {self.cfg.build_timeout} s")
        if stop := self.run.flush():
            raise Stopped(stop)

    def tool(self, argv: list[str], egress: Allowlist | None = None, egress_env: dict[str, str] | None = None,
             npm_cache_shared: bool = False) -> RunResult:
        """Run a step's command in the sandbox, with no network unless `egress` names hosts: then
        behind an egress proxy of its own, with `egress_env` pointing the tools at it. Every step
        sees only this attempt's project and home folders (the install also npm's shared cache)."""
        self.run.note("$ " + " ".join(Path(a).name if a.startswith("/") else a for a in argv))
        first_line = len(self.run.tail_lines)
        mounts = [sandbox.Mount(self.workdir), sandbox.Mount(self.home)]
        npm_cache = self.home / ".npm"
        if npm_cache_shared:
            npm_cache = self.cfg.cache_dir / "npm"
            sandbox.hand_over(npm_cache)
            mounts.append(sandbox.Mount(npm_cache, shared=True))
        env = build_env(self.home, npm_cache)
        label = f"job{self.job.id}-a{self.job.attempts}-{self.run.step}"
        with ExitStack() as stack:
            bridge = None
            if egress and sandbox.host().bwrap is not None:
                owner = sandbox.SANDBOX_UID if sandbox.host().drops_privileges else None
                proxy = stack.enter_context(EgressProxy(egress, self._refused, owner))
                bridge, env = proxy.socket_path, {**env, **(egress_env or {})}
                self.run.note(f"network: only {', '.join(egress.hosts)}, through the egress proxy")
            try:
                step = stack.enter_context(sandbox.confine(argv, self.workdir, env, mounts, bridge, label, sandbox.limits()))
            except sandbox.SandboxUnavailable as exc:
                raise StepFailed(str(exc)) from None
            result = run(step.argv, self.workdir, step.env, self.run.line, self.deadline, self.run.flush, step.guard)
            if not result.stopped and step.guard.disk.over(now_or_never=True):
                result = RunResult(result.returncode, "disk")
        if result.stopped == "timeout":
            raise StepFailed(f"timed out after {self.cfg.build_timeout} s")
        if result.stopped == "memory":
            raise StepFailed(f"out of memory (limit {self.cfg.build_memory_mb} MB)")
        if result.stopped == "processes":
            raise StepFailed(f"too many processes (limit {self.cfg.build_pids_max})")
        if result.stopped == "disk":
            raise StepFailed(f"disk limit ({self.cfg.build_disk_mb} MB): the build folder grew past it")
        if result.stopped:
            raise Stopped(result.stopped)
        output = self.run.tail_lines[first_line:] or self.run.tail_lines
        if not result.ok and any(marker in line for line in output for marker in FILE_TOO_LARGE):
            raise StepFailed(f"disk limit ({self.cfg.build_disk_mb} MB): a file may not grow past it\n{tail(output)}")
        if not result.ok and any(NO_SPACE in line for line in output):
            raise StepFailed(f"out of space: /tmp holds {self.cfg.build_tmp_mb} MB (WEBBUILDER_BUILD_TMP_MB), or the host's disk is full\n{tail(output)}")
        return result

    def _refused(self, destination: str, reason: str) -> None:
        self.run.note(f"network: refused {destination} ({reason})")

    def execute(self) -> None:
        try:
            for name, start, end in STEPS:
                self.run.step, self.run.progress = name, start
                self.run.steps[name] = {"status": "running", "startedAt": utcnow().isoformat()}
                if stop := self.run.flush(force=True):
                    raise Stopped(stop)
                began = time.monotonic()
                try:
                    getattr(self, name)()
                finally:
                    info = self.run.steps[name]
                    info["seconds"] = round(time.monotonic() - began, 3)
                info["status"] = "skipped" if info.pop("skipped", False) else "done"
                self.run.progress = end
                self.run.note(f"{name}: {info['status']} in {info['seconds']:.2f} s")
        finally:
            if self.storing is not None:
                self.storing.join()


def _output_folder(project: Path) -> Path:
    """The first of dist/, build/, out/ holding an index.html. The build's code made them, so a link
    there (to another job's upload, say) is refused: the output must be a real folder of the project."""
    for name in OUTPUT_FOLDERS:
        folder = project / name
        for path in (folder, folder / "index.html"):
            if path.is_symlink():
                raise StepFailed(f"{path.relative_to(project)} is a symbolic link: the output must be a real folder in the project")
        if stat.S_ISDIR(_lstat_mode(folder)) and stat.S_ISREG(_lstat_mode(folder / "index.html")):
            return folder
    raise StepFailed("the build finished but produced no dist/index.html")


def _lstat_mode(path: Path) -> int:
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


def _previous_install_query(job: BuildJob):
    same_site = select(Website.name).where(Website.id == job.website_id).scalar_subquery()
    return (
        select(BuildJob.steps)
        .join(Website, col(Website.id) == BuildJob.website_id)
        .where(Website.user_id == job.user_id, Website.name == same_site, BuildJob.id != job.id, col(BuildJob.steps).is_not(None), col(BuildJob.build_cache).is_distinct_from("hit"))
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
            job.site_slug, job.preview_url, job.site_bytes = pipeline.job.site_slug, pipeline.job.preview_url, pipeline.job.site_bytes
            seconds = (job.completed_at - job.started_at).total_seconds()
            notify(session, job, "completed", f"{website.name} is live", f"Built in {seconds:.1f} s.", job.preview_url)
        elif outcome == JobStatus.FAILED:
            job.current_step = f"failed at {pipeline.run.step}"
            first_line = strip_ansi(error or "").splitlines()[0][:300]
            notify(session, job, "failed", f"{website.name} failed to build", first_line, retry_action_url(job.id))
        else:
            job.current_step = "cancelled"
            notify(session, job, "cancelled", f"{website.name} cancelled", "Stopped while building.", f"/jobs/{job.id}")
        events.after_commit(session, Notice(Change.JOB, job.user_id, job_id))
