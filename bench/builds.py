"""A job's wall time against the raw tools it runs, and an identical re-upload.

- warm: the project's lockfile is in the dependency cache. Raw = `cp -al` of the cached node_modules
  into a fresh folder + `tsc -b` + `vite build`.
- cold: a lockfile never seen before (its name field changes every round), npm's own cache warm, as
  on a service that has built other projects. Raw = `npm ci` in a fresh folder + `tsc -b` + `vite build`.
- cold with npm's cache cold too: as cold, but the service's npm cache is emptied before each job
  and the raw side gets an empty npm cache of its own: every package comes over the network (for
  the job, through the install's egress proxy).
- job wall time: from the upload call to the job read back as completed, i.e. intake, the wake through
  Redis, the claim, the whole pipeline (sandboxed steps included) and publishing.
- identical re-upload: the same zip again, from the upload call to `completed` (the build cache).
Rounds alternate raw and job runs, so a change in the machine's load hits both sides alike; the
ratio reported is the median over rounds of (job ÷ raw) of the same round.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.projects import react_project, zip_folder
from workers.accounts import users as accounts
from workers.config import settings
from workers.jobs import intake
from workers.jobs.lifecycle import Deployment
from workers.store.db import session_scope
from workers.store.models import TERMINAL_STATUSES, BuildJob

from .environment import installation, worker

ROUNDS = 5
IDENTICAL_ROUNDS = 5
COLD_NPM_ROUNDS = 5
NPM_CI = ["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"]


@dataclass(frozen=True)
class BuildFigures:
    warm_job: float  # median seconds
    warm_raw: float
    warm_ratio: float  # median over rounds of job ÷ raw, each pair run back to back
    cold_job: float
    cold_raw: float
    cold_ratio: float
    cold_npm_job: float
    cold_npm_raw: float
    cold_npm_ratio: float
    identical: float
    identical_max: float
    breakdown: dict[str, dict[str, float]]  # "warm"/"cold" → part → median seconds, job and raw side by side


def _tools_env(home: Path, npm_cache: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "CI": "1",
        "npm_config_cache": str(npm_cache),
        "npm_config_update_notifier": "false",
    }


def _project(folder: Path, round_number: int, new_lockfile: bool = False) -> Path:
    """The tests' react-ts sample with a source file unique to the round (else the build cache
    would answer) and, for a cold round, a lockfile never seen before."""
    react_project(folder, **{"src/round.ts": f"export const round = {round_number}\n"})
    if new_lockfile:
        for name in ("package.json", "package-lock.json"):
            data = json.loads((folder / name).read_text())
            data["name"] = f"bench-{folder.name}"
            if "packages" in data:
                data["packages"][""]["name"] = data["name"]
            (folder / name).write_text(json.dumps(data, indent=2))
    return folder


def deploy_and_wait(user_id: int, folder: Path, website_id: int | None = None) -> tuple[float, BuildJob]:
    """Upload `folder` (a new website, or a new deployment of `website_id`) and wait for its job to
    end; returns the seconds from the upload call to `completed`, and the job. Exits on a failure."""
    archive = zip_folder(folder, folder.with_suffix(".zip"))
    began = time.perf_counter()
    with open(archive, "rb") as stream:
        job_id = intake.accept(user_id, folder.name, [(archive.name, stream)], 0, Deployment(website_id)).job.id
    while True:
        with session_scope() as session:
            job = session.get(BuildJob, job_id)
        if job.status in TERMINAL_STATUSES:
            elapsed = time.perf_counter() - began
            if job.status != "completed":
                raise SystemExit(f"bench job {job_id} {job.status}: {job.error}")
            return elapsed, job
        time.sleep(0.01)


def _raw(folder: Path, cached_modules: Path | None, npm_cache: Path | None = None) -> dict[str, float]:
    """The tools alone, in a fresh copy of the project; seconds per part and in total. They use
    their own npm cache (warmed like the service's, unless one is given), so they never touch the
    service's files."""
    home = folder.parent / f"{folder.name}-home"
    home.mkdir()
    env = _tools_env(home, npm_cache or folder.parent / "raw-npm-cache")
    install = ["cp", "-al", str(cached_modules), str(folder / "node_modules")] if cached_modules else NPM_CI
    parts = {}
    for part, argv in (
        ("raw install", install),
        ("raw tsc -b", [str(folder / "node_modules/.bin/tsc"), "-b"]),
        ("raw vite build", [str(folder / "node_modules/.bin/vite"), "build"]),
    ):
        began = time.perf_counter()
        subprocess.run(argv, cwd=folder, env=env, check=True, capture_output=True)
        parts[part] = time.perf_counter() - began
    parts["total"] = sum(parts.values())
    return parts


def _job_parts(wall: float, job: BuildJob) -> dict[str, float]:
    parts = {f"job {name}": info["seconds"] for name, info in job.steps.items()}
    parts["job rest (intake, queue, claim, bookkeeping)"] = wall - sum(parts.values())
    parts["total"] = wall
    return parts


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Median seconds of each part (the totals are reported on their own)."""
    return {part: statistics.median(run[part] for run in runs) for part in runs[0] if part != "total"}


def _cached_modules(job: BuildJob) -> Path:
    digest = job.steps["install"]["cacheKey"]
    return settings().cache_dir / "deps" / digest / "node_modules"


def run(redis_url: str, log=print) -> BuildFigures:
    with installation(redis_url, WEBBUILDER_MAX_CONCURRENT_BUILDS="1") as workdir, worker():
        with session_scope() as session:
            user = accounts.register(session, "bench", "password123").id
        log("  warming up: a first build fills npm's caches and the dependency cache")
        _, first = deploy_and_wait(user, _project(workdir / "warmup", 0))
        _raw(_project(workdir / "raw-warmup", 0, new_lockfile=True), None)
        cached = _cached_modules(first)
        warm_job, warm_raw, cold_job, cold_raw = [], [], [], []
        for n in range(1, ROUNDS + 1):
            warm_raw.append(_raw(_project(workdir / f"raw-warm-{n}", n), cached))
            warm_job.append(_job_parts(*deploy_and_wait(user, _project(workdir / f"warm-{n}", n))))
            cold_raw.append(_raw(_project(workdir / f"raw-cold-{n}", n, new_lockfile=True), None))
            cold_job.append(_job_parts(*deploy_and_wait(user, _project(workdir / f"cold-{n}", n, new_lockfile=True))))
            log(f"  round {n}: warm job {warm_job[-1]['total']:.2f} s / raw {warm_raw[-1]['total']:.2f} s, "
                f"cold job {cold_job[-1]['total']:.2f} s / raw {cold_raw[-1]['total']:.2f} s")
        cold_npm_job, cold_npm_raw = [], []
        for n in range(ROUNDS + 1, ROUNDS + 1 + COLD_NPM_ROUNDS):
            cold_npm_raw.append(_raw(_project(workdir / f"raw-npm-cold-{n}", n, new_lockfile=True), None, workdir / f"npm-cache-{n}"))
            shutil.rmtree(settings().cache_dir / "npm", ignore_errors=True)
            cold_npm_job.append(_job_parts(*deploy_and_wait(user, _project(workdir / f"npm-cold-{n}", n, new_lockfile=True))))
            log(f"  round {n}: cold job, npm cache cold too, {cold_npm_job[-1]['total']:.2f} s / raw {cold_npm_raw[-1]['total']:.2f} s")
        identical = []
        for n in range(IDENTICAL_ROUNDS):
            again = workdir / f"identical-{n}"
            shutil.copytree(workdir / f"warm-{ROUNDS}", again)
            identical.append(deploy_and_wait(user, again)[0])
        log(f"  identical re-uploads: {', '.join(f'{s * 1000:.0f} ms' for s in identical)}")
    return BuildFigures(
        statistics.median(r["total"] for r in warm_job),
        statistics.median(r["total"] for r in warm_raw),
        statistics.median(job["total"] / raw["total"] for job, raw in zip(warm_job, warm_raw)),
        statistics.median(r["total"] for r in cold_job),
        statistics.median(r["total"] for r in cold_raw),
        statistics.median(job["total"] / raw["total"] for job, raw in zip(cold_job, cold_raw)),
        statistics.median(r["total"] for r in cold_npm_job),
        statistics.median(r["total"] for r in cold_npm_raw),
        statistics.median(job["total"] / raw["total"] for job, raw in zip(cold_npm_job, cold_npm_raw)),
        statistics.median(identical),
        max(identical),
        {"warm": {**_medians(warm_job), **_medians(warm_raw)}, "cold": {**_medians(cold_job), **_medians(cold_raw)}},
    )
