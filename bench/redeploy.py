"""A website's redeploy with one changed source file, against the raw tools from clean.

- job: the react-ts sample is deployed to one website (the warm-up fills npm's cache, the dependency
  cache and the website's build caches); each round deploys a new version of that website whose
  src/App.tsx differs. Its wall time runs from the upload call to the job read back as completed,
  as in bench.builds: intake, the wake, the claim, the pipeline with its sandboxed steps (the type
  check from the last deployment's state, beside vite build) and publishing.
- raw: the same changed project in a fresh folder, from clean: `cp -al` of the cached node_modules +
  `tsc -b` + `vite build`, one after the other.
Rounds alternate raw and job runs; the ratio is the median over rounds of (job ÷ raw) of one round.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tests.projects import react_project
from workers.accounts import users as accounts
from workers.store.db import session_scope
from workers.store.models import BuildJob

from .builds import _cached_modules, _medians, _raw, deploy_and_wait
from .environment import installation, worker

ROUNDS = 7
TARGET = 0.7


@dataclass(frozen=True)
class RedeployFigures:
    job: float  # median seconds
    raw: float
    ratio: float  # median over rounds of job ÷ raw, each pair run back to back
    breakdown: dict[str, float]  # part → median seconds, job and raw side by side


def _version(folder: Path, round_number: int) -> Path:
    """The sample with its one component changed: what a user fixing a heading uploads."""
    app = f"export function App() {{\n  return <h1>Round {round_number}</h1>\n}}\n"
    return react_project(folder, **{"src/App.tsx": app})


def _span(info: dict) -> tuple[datetime, datetime]:
    began = datetime.fromisoformat(info["startedAt"])
    return began, began + timedelta(seconds=info["seconds"])


def _job_parts(wall: float, job: BuildJob) -> dict[str, float]:
    """Seconds per step, the type check and the build also as the time they took together (they
    overlap), and the rest of the wall time."""
    parts = {f"job {name}": info["seconds"] for name, info in job.steps.items()}
    (check_began, check_ended), (build_began, build_ended) = _span(job.steps["typecheck"]), _span(job.steps["build"])
    together = (max(check_ended, build_ended) - min(check_began, build_began)).total_seconds()
    parts["job typecheck + build, wall"] = together
    steps = together + sum(seconds for name, seconds in parts.items() if name in ("job extract", "job install", "job publish"))
    parts["job rest (intake, queue, claim, bookkeeping)"] = wall - steps
    parts["total"] = wall
    return parts


def run(redis_url: str, log=print) -> RedeployFigures:
    with installation(redis_url, WEBBUILDER_MAX_CONCURRENT_BUILDS="1") as workdir, worker():
        with session_scope() as session:
            user = accounts.register(session, "bench", "password123").id
        log("  warming up: a first deployment fills npm's caches, the dependency cache and the website's build caches")
        _, first = deploy_and_wait(user, _version(workdir / "warmup", 0), None)
        website = first.website_id
        cached = _cached_modules(first)
        _raw(_version(workdir / "raw-warmup", 0), cached)
        jobs, raws = [], []
        for n in range(1, ROUNDS + 1):
            raws.append(_raw(_version(workdir / f"raw-{n}", n), cached))
            wall, job = deploy_and_wait(user, _version(workdir / f"v{n}", n), website)
            jobs.append(_job_parts(wall, job))
            log(f"  round {n}: redeploy {wall:.2f} s (typecheck {job.steps['typecheck']['seconds']:.2f} s, build "
                f"{job.steps['build']['seconds']:.2f} s, together {jobs[-1]['job typecheck + build, wall']:.2f} s) / raw {raws[-1]['total']:.2f} s")
    figures = RedeployFigures(
        statistics.median(r["total"] for r in jobs),
        statistics.median(r["total"] for r in raws),
        statistics.median(job["total"] / raw["total"] for job, raw in zip(jobs, raws)),
        {**_medians(jobs), **_medians(raws)},
    )
    log(f"  median redeploy {figures.job:.2f} s, raw {figures.raw:.2f} s, ratio {figures.ratio:.2f} (target ≤ {TARGET}); "
        + ", ".join(f"{part} {seconds:.2f} s" for part, seconds in figures.breakdown.items()))
    return figures
