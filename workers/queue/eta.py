"""Queue positions and ETAs, from the dispatcher's own ordering and measured step durations.

Durations: the median seconds of each pipeline step over the last builds that really ran (cache hits
and followers excluded), taken from builds of a similar size (files in the upload, in powers of two)
when there are enough of them, else from all recent builds. A running job's remaining time is what is
left of its current step plus the medians of the steps after it. Queued jobs are then laid out in
dispatch order on the configured number of slots, each starting when the earliest slot frees.
"""

from __future__ import annotations

import heapq
import statistics
from collections import defaultdict
from datetime import datetime, timedelta

from sqlmodel import Session, col, desc, select

from workers.config import settings
from workers.queue.scheduler import queued_in_order
from workers.store.models import IN_FLIGHT_STATUSES, BuildJob, JobStatus, utcnow

RECENT_BUILDS = 50
MIN_SAMPLES = 3
DEFAULT_BUILD_SECONDS = 30.0
MIN_STEP_REMAINING = 1.0


def size_bucket(files: int | None) -> int:
    return (files or 0).bit_length()


def _parse(moment: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(moment) if moment else None
    except ValueError:
        return None


class DurationModel:
    """Typical seconds per step, by project size."""

    def __init__(self, samples: list[tuple[int, dict]]):
        self.step_order: list[str] = []
        self._all: dict[str, list[float]] = defaultdict(list)
        self._by_bucket: dict[tuple[int, str], list[float]] = defaultdict(list)
        for bucket, steps in samples:
            for name, info in steps.items():
                seconds = info.get("seconds") if isinstance(info, dict) else None
                if not isinstance(seconds, (int, float)):
                    continue
                if name not in self.step_order:
                    self.step_order.append(name)
                self._all[name].append(float(seconds))
                self._by_bucket[(bucket, name)].append(float(seconds))

    @classmethod
    def recent(cls, session: Session) -> DurationModel:
        rows = session.exec(
            select(BuildJob.source_files, BuildJob.steps)
            .where(
                BuildJob.status == JobStatus.COMPLETED,
                col(BuildJob.steps).is_not(None),
                col(BuildJob.build_cache).is_distinct_from("hit"),
            )
            .order_by(desc(BuildJob.completed_at))
            .limit(RECENT_BUILDS)
        ).all()
        return cls([(size_bucket(files), steps) for files, steps in rows if isinstance(steps, dict)])

    def step_seconds(self, bucket: int, step: str) -> float:
        similar = self._by_bucket.get((bucket, step), [])
        samples = similar if len(similar) >= MIN_SAMPLES else self._all.get(step, [])
        return statistics.median(samples) if samples else 0.0

    def total(self, bucket: int) -> float:
        if not self.step_order:
            return DEFAULT_BUILD_SECONDS
        return sum(self.step_seconds(bucket, step) for step in self.step_order)

    def remaining(self, job: BuildJob, now: datetime) -> float:
        """Seconds until a running job is done: the rest of its current step, then the later steps."""
        bucket = size_bucket(job.source_files)
        steps = job.steps or {}
        if job.current_step not in self.step_order:
            elapsed = (now - job.started_at).total_seconds() if job.started_at else 0.0
            return max(MIN_STEP_REMAINING, self.total(bucket) - elapsed)
        index = self.step_order.index(job.current_step)
        started = _parse((steps.get(job.current_step) or {}).get("startedAt"))
        elapsed = (now - started).total_seconds() if started else 0.0
        current = max(MIN_STEP_REMAINING, self.step_seconds(bucket, job.current_step) - elapsed)
        return current + sum(self.step_seconds(bucket, step) for step in self.step_order[index + 1:])


class QueueEstimator:
    """Positions and ETAs for every waiting and running job, from one read of the queue."""

    def __init__(self, session: Session, now: datetime | None = None):
        now = self.now = now or utcnow()
        model = DurationModel.recent(session)
        ordered = queued_in_order(session, now)
        self.order = {job.id: index for index, job in enumerate(ordered, start=1)}
        running = session.exec(select(BuildJob).where(col(BuildJob.status).in_(IN_FLIGHT_STATUSES))).all()
        self.finish_in: dict[int, float] = {job.id: model.remaining(job, now) for job in running}
        self.start_in: dict[int, float] = {}
        slots = sorted(self.finish_in.values())[: settings().max_concurrent_builds]
        slots += [0.0] * (settings().max_concurrent_builds - len(slots))
        heapq.heapify(slots)
        files = dict(
            session.exec(select(BuildJob.id, BuildJob.source_files).where(col(BuildJob.id).in_(list(self.order)))).all()
        ) if self.order else {}
        for job in ordered:
            start = heapq.heappop(slots)
            finish = start + model.total(size_bucket(files.get(job.id)))
            self.start_in[job.id], self.finish_in[job.id] = start, finish
            heapq.heappush(slots, finish)

    def position(self, job: BuildJob) -> int | None:
        return self.order.get(job.id) if job.status == JobStatus.QUEUED else None

    def _leader_or_self(self, job: BuildJob) -> int:
        return job.follows_job_id if job.status == JobStatus.PENDING and job.follows_job_id else job.id

    def seconds_remaining(self, job: BuildJob) -> int | None:
        """Until the job is done: wait for a slot plus its own build (a follower: its leader's)."""
        seconds = self.finish_in.get(self._leader_or_self(job))
        return max(1, round(seconds)) if seconds is not None else None

    def seconds_to_start(self, job: BuildJob) -> int | None:
        seconds = self.start_in.get(job.id) if job.status == JobStatus.QUEUED else None
        return round(seconds) if seconds is not None else None

    def moment_after(self, seconds: int | None) -> datetime | None:
        """The absolute time `seconds` after this estimate was made: a page can count down to it
        between updates, where relative seconds would stand still until the next push. Whole
        seconds, like the estimates, so two reads a moment apart give the same value and the live
        feed sends no change."""
        if seconds is None:
            return None
        return (self.now + timedelta(seconds=seconds)).replace(microsecond=0)
