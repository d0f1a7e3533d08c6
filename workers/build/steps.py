"""The steps of one build, as plain code: extract → install → type check → build → publish.

`ProjectBuild` runs each step's tools in the sandbox (workers.build.sandbox) and writes what they
print, its own notes and each step's facts (cache hit or miss, skipped) into a `StepLog`; a failure
raises `StepFailed` with the tool's own words, a stop from outside `Stopped`. Who the build is for,
its progress in the database and its notifications are the caller's (workers.jobs.pipeline).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from workers.build import install_policy, publishing, sandbox
from workers.build.deps_cache import CacheKey, DependencyCache, Installed, key_for, tool_versions
from workers.build.diagnostics import npm_error_text, tail, tsc_errors, vite_errors
from workers.build.disk_budget import tree_bytes
from workers.build.egress_proxy import Allowlist, EgressProxy
from workers.build.runner import RunResult, run
from workers.build.website_cache import Restored, WebsiteCache, expire_tsc_state
from workers.config import settings

log = logging.getLogger(__name__)

# (step, progress when it starts, progress when it ends)
STEPS = (("extract", 0, 10), ("install", 10, 50), ("typecheck", 50, 65), ("build", 65, 90), ("publish", 90, 100))
# Vite's templates build with "tsc -b && vite build". The typecheck step runs that same check (with
# diagnostics parsed), so repeating it would only add ~2 s: the build step then runs vite alone, at
# the same time as the type check where that is safe (`ProjectBuild.alongside`).
TYPECHECK_THEN_VITE = {"tsc -b && vite build", "tsc && vite build"}
# `tsc --listEmittedFiles` names each file it writes on a line of its own (not shown in the log).
TSFILE = "TSFILE: "
TOOL_LINES = 2000  # of one tool's output kept for reading its errors
OUTPUT_FOLDERS = ("dist", "build", "out")
FILE_TOO_LARGE = ("File too large", "File size limit exceeded")  # EFBIG, SIGXFSZ: RLIMIT_FSIZE was hit
NO_SPACE = "No space left on device"  # ENOSPC: the step's /tmp is full (or the host's disk)
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


@dataclass(frozen=True)
class ToolRun:
    result: RunResult
    lines: list[str]  # what the tool printed (its last TOOL_LINES lines)

    @property
    def ok(self) -> bool:
        return self.result.ok


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


class StepLog(Protocol):
    """Where a build reports: every output line, its own notes, the step running, each step's facts."""

    step: str
    steps: dict

    def line(self, text: str) -> None: ...

    def note(self, text: str) -> None: ...

    def flush(self, force: bool = False) -> str | None:
        """Save what changed; returns why the build must stop (a cancel, a lost lease), if so."""


class ProjectBuild:
    """One attempt's build of a project folder, step by step (`STEPS`, each a method of that name).
    It knows nothing of jobs or users: it writes into `record` (the output, notes and each step's
    facts), reads `source`, and builds in `workdir` with `home` as the tools' home; the caller says
    why the dependency cache missed (`miss_reason`) and records progress around each step, and runs
    a step `alongside` another at the same time when this says so. `caches` holds what the
    website's last deployment left for this one (None: a build without cache), `keep_caches` hands
    this build's on."""

    def __init__(self, source: Path, attempt_dir: Path, label: str, record: StepLog, deadline: float,
                 miss_reason: Callable[[str], str], caches: WebsiteCache | None):
        self.cfg = settings()
        self.source = source
        self.workdir = attempt_dir / "project"
        self.home = attempt_dir / "home"
        self.label = label  # names the step's cgroups: job<id>-a<attempt>
        self.record = record
        self.deadline = deadline
        self.miss_reason = miss_reason
        self.caches = caches
        self.restored: Restored | None = None
        self.tsc_writes_files: bool | None = None  # known once tsc ran
        self.beside_typecheck = False  # the build step runs vite alone, at the same time
        self.output_dir: Path | None = None
        self.storing: threading.Thread | None = None  # the dependency cache filling meanwhile
        self.site_slug: str | None = None
        self.site_bytes: int | None = None
        self.preview_url: str | None = None

    # -- steps ------------------------------------------------------------------------------------

    def extract(self) -> None:
        shutil.copytree(self.source, self.workdir, symlinks=False)
        self.home.mkdir(parents=True, exist_ok=True)
        sandbox.hand_over(self.workdir, self.home)
        files = sum(1 for p in self.workdir.rglob("*") if p.is_file())
        self.record.note(f"{files} files ready in the build folder")

    def _package(self) -> dict | None:
        path = self.workdir / "package.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def install(self) -> None:
        """The dependencies, then the build caches the website's last deployment left."""
        self._install_dependencies()
        self._restore_caches()

    def _install_dependencies(self) -> None:
        """Restore node_modules from the dependency cache when the lockfile (and Node/npm) were seen
        before; otherwise install with npm and offer the result to the cache."""
        if self._package() is None:
            self.record.note("no package.json: a static site, nothing to install")
            self.record.steps["install"]["skipped"] = True
            return
        rules = install_policy.policy(self.cfg.npm_registry, self.cfg.install_egress_allow, self.cfg.install_allow_remote_deps)
        try:
            sources = install_policy.check_sources(self.workdir, rules)
        except install_policy.DependencyRefused as exc:
            raise StepFailed(f"install refused: {exc}") from None
        settings_files = install_policy.sanitise_config(self.workdir, rules)
        if settings_files.dropped:
            self.record.note("ignored project settings the service decides itself: " + ", ".join(settings_files.dropped))
        cache = DependencyCache(self.cfg.cache_dir, self.cfg.deps_cache_mb * 1024 * 1024)
        command = ["npm", "ci"] if (self.workdir / "package-lock.json").is_file() else ["npm", "install"]
        argv = [*command, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"]
        key = key_for(self.workdir, "\n".join([toolchain(), " ".join(argv), settings_files.effective]))
        if sources.local:  # their files are the project's own: another user's lockfile must not get them
            key = CacheKey(None, "local file: dependencies are not cached")
        info = self.record.steps["install"]
        if key.digest:
            info["cacheKey"] = key.digest
            if cache.restore(key.digest, self.workdir):
                sandbox.seal(self.workdir / "node_modules")
                info.update(cache="hit", cacheReason=f"dependencies of lockfile {key.digest[:12]} were cached")
                self.record.note(f"dependencies restored from cache (lockfile {key.digest[:12]})")
                return
        info.update(cache="miss", cacheReason=key.reason or self.miss_reason(key.digest))
        self.record.note(f"dependency cache miss: {info['cacheReason']}")
        installed = self.tool(argv, "install", egress=rules.allowlist(), egress_env=rules.env(), npm_cache_shared=True)
        if not installed.ok:
            lines = installed.lines
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
                    self.record.note("node_modules changed while it was being cached: not cached")
            except Exception:
                log.exception("%s: storing node_modules in the dependency cache failed", self.label)

        self.storing = threading.Thread(target=store, name=f"deps-cache-{self.label}", daemon=True)
        self.storing.start()

    def _restore_caches(self) -> None:
        if self.caches is None:
            self.record.note("redeploy without cache: the build caches of earlier deployments are not used, and this one's are not kept")
            return
        owner = (sandbox.SANDBOX_UID, sandbox.SANDBOX_GID) if sandbox.host().drops_privileges else None
        try:
            self.restored = self.caches.restore(self.workdir, owner)
        except OSError as exc:
            log.exception("%s: restoring the website's build caches failed", self.label)
            self.record.note(f"the build caches of the website's last deployment could not be restored ({exc.strerror}): building without them")
            return
        if self.restored and self.restored.files:
            self.record.note(f"build caches of the website's last deployment restored ({_amount(self.restored.files, self.restored.bytes)})")

    def _typecheck_command(self) -> tuple[list[str] | None, str]:
        """tsc's command line, or None and why there is no type check."""
        tsconfig = self.workdir / "tsconfig.json"
        tsc = self.workdir / "node_modules" / ".bin" / "tsc"
        if not tsconfig.is_file():
            return None, "no tsconfig.json: type check skipped"
        if not tsc.exists():
            return None, "tsconfig.json found but typescript is not installed: type check skipped"
        # Project references (Vite's react-ts template) make `tsc --noEmit` check nothing: use -b,
        # keeping its state for the next deployment (--incremental). Either way tsc names what it writes.
        if '"references"' in tsconfig.read_text(errors="replace"):
            return [str(tsc), "-b", "--incremental", "--listEmittedFiles", "--pretty", "false"], ""
        return [str(tsc), "--noEmit", "--listEmittedFiles", "--pretty", "false"], ""

    def typecheck(self, should_stop: Callable[[], str | None] | None = None) -> None:
        argv, reason = self._typecheck_command()
        if argv is None:
            self.record.note(reason)
            self.record.steps["typecheck"]["skipped"] = True
            return
        expire_tsc_state(self.workdir)  # restored or uploaded: tsc must not take it for up to date
        written = []

        def listed(line: str) -> bool:
            if line.startswith(TSFILE):
                if self._output_of_tsc(line[len(TSFILE):].strip()):
                    written.append(line)
                return True
            return False

        checked = self.tool(argv, "typecheck", should_stop=should_stop, hide=listed)
        if not checked.ok:
            errors = tsc_errors(checked.lines)
            summary = "\n".join(f"{e['file']}({e['line']},{e['column']}): {e['code']} {e['message']}" for e in errors[:20])
            raise StepFailed(f"type check failed with {len(errors) or 'an'} error(s):\n{summary or tail(checked.lines)}", errors)
        self.tsc_writes_files = bool(written)

    def _output_of_tsc(self, path: str) -> bool:
        """A file tsc wrote that a build may read or write too: anything but its own state, or its
        state in an output folder (vite empties dist/ as it starts)."""
        try:
            relative = Path(path).relative_to(self.workdir)
        except ValueError:
            return True
        return relative.suffix != ".tsbuildinfo" or relative.parts[0] in OUTPUT_FOLDERS

    def _build_script(self, package: dict) -> str:
        return " ".join(str((package.get("scripts") or {}).get("build") or "").split())

    def alongside(self, step: str) -> str | None:
        """The step to run at the same time as `step`, if any: the build (vite alone, a core each),
        beside the type check of a TYPECHECK_THEN_VITE script, once the website's last deployment
        showed that its type check, with the same tsconfig files, writes nothing vite could read
        half-written or empty away (`tsc -b` of Vite 5's template wrote vite.config.js, which vite
        loads first; a tsbuildinfo may go to dist/). Publishing waits for both. From a "build"
        answer on, the build step runs vite alone."""
        if step != "typecheck":
            return None
        package = self._package()
        if package is None or self._build_script(package) not in TYPECHECK_THEN_VITE:
            return None
        argv, _ = self._typecheck_command()
        if argv is None or self.restored is None or self.restored.tsc_writes_files is not False:
            return None
        self.beside_typecheck = True
        return "build"

    def build(self, should_stop: Callable[[], str | None] | None = None) -> None:
        package = self._package()
        if package is None:
            self.output_dir = self.workdir
            self.record.steps["build"]["skipped"] = True
            self.record.note("static site: publishing the upload as it is")
            return
        script = self._build_script(package)
        vite_build = [str(self.workdir / "node_modules" / ".bin" / "vite"), "build"]
        if script in TYPECHECK_THEN_VITE and self.beside_typecheck:
            self.record.note(f'build script "{script}": running vite build while the typecheck step runs its type check')
            argv = vite_build
        elif script in TYPECHECK_THEN_VITE and self.record.steps["typecheck"].get("status") == "done":
            self.record.note(f'build script "{script}": its type check just passed in the typecheck step; running vite build')
            argv = vite_build
        elif script:
            argv = ["npm", "run", "build"]
        else:
            argv = vite_build
        egress = Allowlist(self.cfg.build_egress_allow)
        # NODE_USE_ENV_PROXY: Node 24's own fetch honours the proxy variables with it; Node 20's ignores them.
        built = self.tool(argv, "build", egress=egress or None, egress_env={**install_policy.proxy_env(), "NODE_USE_ENV_PROXY": "1"},
                          should_stop=should_stop)
        if not built.ok:
            errors = tsc_errors(built.lines) or vite_errors(built.lines, str(self.workdir))
            raise StepFailed(f"{' '.join(Path(a).name if '/' in a else a for a in argv)} failed:\n{tail(built.lines)}", errors)
        self.output_dir = _output_folder(self.workdir)

    def publish(self) -> None:
        """Copy the output, read inside the sandbox, as plain files within the site caps (see
        workers/publishing.py), on the build's deadline and lease."""
        label = f"{self.label}-publish"
        try:
            slug, published = publishing.new_site(
                self.cfg.sites_dir, lambda staging: publishing.collect(self.output_dir, self.workdir, staging, label, self._still_running))
        except (publishing.SiteRefused, sandbox.SandboxUnavailable) as exc:
            raise StepFailed(str(exc)) from None
        if left := published.left_note():
            self.record.note(left)
        self.site_slug, self.site_bytes = slug, tree_bytes(self.cfg.sites_dir / slug)
        self.preview_url = self.cfg.preview_url(slug)
        self.record.note(f"published at {self.preview_url}")

    def keep_caches(self) -> None:
        """After a successful build: this build's type checker state and bundler caches become the
        website's, for its next deployment (see workers.build.website_cache). A failure here costs
        the next deployment time, never this one."""
        if self.caches is None:
            return
        try:
            kept = self.caches.save(self.workdir, self.tsc_writes_files)
        except OSError as exc:
            log.exception("%s: keeping the website's build caches failed", self.label)
            self.record.note(f"the build caches could not be kept for the next deployment ({exc.strerror})")
            return
        if kept.refused:
            self.record.note(kept.refused)
        elif kept.files:
            self.record.note(f"build caches kept for the website's next deployment ({_amount(kept.files, kept.bytes)})")
        if self.tsc_writes_files:
            self.record.note("the type check writes files: its state is not kept for the next deployment (restored "
                             "without those files, it would make tsc skip writing them again)")

    # -- running ----------------------------------------------------------------------------------

    def _still_running(self) -> None:
        """Checked while the worker itself works for the build: its deadline, a cancel, and the
        lease (renewed here)."""
        if time.monotonic() > self.deadline:
            raise StepFailed(f"timed out after {self.cfg.build_timeout} s")
        if stop := self.record.flush():
            raise Stopped(stop)

    def tool(self, argv: list[str], step: str, egress: Allowlist | None = None, egress_env: dict[str, str] | None = None,
             npm_cache_shared: bool = False, should_stop: Callable[[], str | None] | None = None,
             hide: Callable[[str], bool] | None = None) -> ToolRun:
        """Run `step`'s command in the sandbox, with no network unless `egress` names hosts: then
        behind an egress proxy of its own, with `egress_env` pointing the tools at it. Every step
        sees only this attempt's project and home folders (the install also npm's shared cache).
        `should_stop` (default: the record's flush) names a reason to stop it; lines `hide` takes are
        neither logged nor returned."""
        self.record.note("$ " + " ".join(Path(a).name if a.startswith("/") else a for a in argv))
        output: deque[str] = deque(maxlen=TOOL_LINES)

        def line(text: str) -> None:
            if hide is None or not hide(text):
                output.append(text)
                self.record.line(text)

        mounts = [sandbox.Mount(self.workdir), sandbox.Mount(self.home)]
        npm_cache = self.home / ".npm"
        if npm_cache_shared:
            npm_cache = self.cfg.cache_dir / "npm"
            sandbox.hand_over(npm_cache)
            mounts.append(sandbox.Mount(npm_cache, shared=True))
        env = build_env(self.home, npm_cache)
        label = f"{self.label}-{step}"
        with ExitStack() as stack:
            bridge = None
            if egress and sandbox.host().bwrap is not None:
                owner = sandbox.SANDBOX_UID if sandbox.host().drops_privileges else None
                proxy = stack.enter_context(EgressProxy(egress, self._refused, owner))
                bridge, env = proxy.socket_path, {**env, **(egress_env or {})}
                self.record.note(f"network: only {', '.join(egress.hosts)}, through the egress proxy")
            try:
                confined = stack.enter_context(sandbox.confine(argv, self.workdir, env, mounts, bridge, label, sandbox.limits()))
            except sandbox.SandboxUnavailable as exc:
                raise StepFailed(str(exc)) from None
            result = run(confined.argv, self.workdir, confined.env, line, self.deadline, should_stop or self.record.flush, confined.guard)
            if not result.stopped and confined.guard.disk.over(now_or_never=True):
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
        lines = list(output)
        if not result.ok and any(marker in text for text in lines for marker in FILE_TOO_LARGE):
            raise StepFailed(f"disk limit ({self.cfg.build_disk_mb} MB): a file may not grow past it\n{tail(lines)}")
        if not result.ok and any(NO_SPACE in text for text in lines):
            raise StepFailed(f"out of space: /tmp holds {self.cfg.build_tmp_mb} MB (WEBBUILDER_BUILD_TMP_MB), or the host's disk is full\n{tail(lines)}")
        return ToolRun(result, lines)

    def _refused(self, destination: str, reason: str) -> None:
        self.record.note(f"network: refused {destination} ({reason})")

    def wait_for_cache(self) -> None:
        """Before the folder can go: the dependency cache's copy of node_modules is complete."""
        if self.storing is not None:
            self.storing.join()


def _amount(files: int, size: int) -> str:
    """E.g. "3 files, 12 KB"."""
    kilobytes = size / 1024
    return f"{files} file{'' if files == 1 else 's'}, " + (f"{kilobytes:.0f} KB" if kilobytes < 1024 else f"{kilobytes / 1024:.1f} MB")


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
