"""Where a job's files live under the data dir: its folder, the upload as received, its log."""

from __future__ import annotations

from pathlib import Path

from workers.config import settings


def job_dir(job_id: int) -> Path:
    return settings().jobs_dir / str(job_id)


def source_dir(job_id: int) -> Path:
    """The upload as received; kept so a retry builds the same files."""
    return job_dir(job_id) / "source"


def log_path(job_id: int) -> Path:
    return job_dir(job_id) / "build.log"


def website_cache_dir(website_id: int) -> Path:
    """What a website's last successful deployment left its next one: the type checker's state and
    the bundlers' caches (workers.build.website_cache)."""
    return settings().cache_dir / "websites" / str(website_id)
