"""Prometheus metrics, read from the database at scrape time.

Counting from the rows (not from in-process counters) gives the same answer on every web process
and survives restarts; the window keeps a scrape cheap.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from sqlmodel import col, func, select

from workers.store.db import session_scope
from workers.store.models import BuildJob, JobStatus, utcnow

WINDOW = timedelta(hours=24)


def failure_cause(error: str | None) -> str:
    """A short label for why a job failed: the limit that stopped it, or the step that broke."""
    text = (error or "").lower()
    for label, marker in (("timeout", "timed out after"), ("memory", "out of memory"), ("worker_died", "worker died")):
        if marker in text:
            return label
    step = text.split(":", 1)[0].strip()
    return step if step in ("extract", "install", "typecheck", "build", "publish") else "other"


class BuildCollector:
    def collect(self):
        since = utcnow() - WINDOW
        with session_scope() as session:
            by_status = dict(session.exec(select(BuildJob.status, func.count()).group_by(BuildJob.status)).all())
            recent = session.exec(
                select(BuildJob.status, BuildJob.steps, BuildJob.error).where(
                    col(BuildJob.completed_at) >= since
                )
            ).all()

        queue = GaugeMetricFamily("webbuilder_queue_depth", "Jobs waiting for a build slot")
        queue.add_metric([], by_status.get(JobStatus.QUEUED, 0))
        yield queue
        running = GaugeMetricFamily("webbuilder_builds_running", "Builds in progress")
        running.add_metric([], by_status.get(JobStatus.BUILDING, 0) + by_status.get(JobStatus.RUNNING, 0))
        yield running

        finished = CounterMetricFamily("webbuilder_jobs_finished", "Jobs finished in the last 24 h", labels=["status"])
        for status, count in sorted(Counter(status for status, _, _ in recent).items()):
            finished.add_metric([status], count)
        yield finished

        failures = CounterMetricFamily("webbuilder_failures", "Failed jobs in the last 24 h by cause", labels=["cause"])
        for cause, count in sorted(Counter(failure_cause(e) for s, _, e in recent if s == JobStatus.FAILED).items()):
            failures.add_metric([cause], count)
        yield failures

        durations = SummaryMetricFamily("webbuilder_step_duration_seconds", "Build step durations, last 24 h", labels=["step"])
        totals: dict[str, list[float]] = {}
        cache = Counter()
        for _, steps, _ in recent:
            for name, info in (steps or {}).items():
                if isinstance(info, dict) and isinstance(info.get("seconds"), (int, float)):
                    totals.setdefault(name, []).append(float(info["seconds"]))
                    if info.get("cache") in ("hit", "miss"):
                        cache[(name, info["cache"])] += 1
        for name, values in sorted(totals.items()):
            durations.add_metric([name], count_value=len(values), sum_value=sum(values))
        yield durations

        lookups = CounterMetricFamily("webbuilder_cache_lookups", "Cache lookups in the last 24 h", labels=["step", "result"])
        for (name, result), count in sorted(cache.items()):
            lookups.add_metric([name, result], count)
        yield lookups
