"""Follow one job live: a progress bar with the current step, fed by the API's event stream.

The stream is resumed with Last-Event-ID when the connection drops, so no change is missed. The
job's state is read once the stream is open (the `ready` event), so a change made between the upload
and the connection cannot be missed either.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from webbuilder_cli.client import ApiClient, ApiError

TERMINAL = ("completed", "failed", "cancelled")
MAX_RECONNECTS = 20


def describe(job: dict) -> str:
    if job["status"] == "queued" and job.get("queuePosition"):
        return f"queued (position {job['queuePosition']})"
    return f"{job['status']}: {job.get('currentStep') or '…'}"


class JobProgress:
    """The bar and the one-line-per-step log under it (lines stay readable in CI logs)."""

    def __init__(self, progress: Progress, job_id: int):
        self.progress = progress
        self.task = progress.add_task(f"job {job_id}", total=100)
        self.last_line = ""

    def show(self, job: dict) -> None:
        self.progress.update(self.task, completed=job.get("progress") or 0, description=describe(job))
        line = describe(job)
        if line != self.last_line:
            self.progress.console.print(f"[dim]→[/dim] {line}", highlight=False)
            self.last_line = line


def follow(client: ApiClient, job_id: int, console: Console) -> dict:
    """Show the job's progress until it finishes; returns its final view."""
    last_event_id: str | None = None
    failures = 0
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        view = JobProgress(progress, job_id)
        while True:
            try:
                with client.events(last_event_id) as stream:
                    for event in stream:
                        failures = 0
                        if event is None:  # heartbeat
                            continue
                        last_event_id = event.id or last_event_id
                        if event.event == "ready":
                            job = client.job(job_id)
                        elif event.event == "job_update" and event.data["job"]["id"] == job_id:
                            job = event.data["job"]
                        else:
                            continue
                        view.show(job)
                        if job["status"] in TERMINAL:
                            return job
                reason = "the server closed the event stream"
            except ApiError as exc:
                if exc.status is not None and exc.status < 500:  # refused; a server error may pass (a restart)
                    raise
                reason = str(exc)
            failures += 1
            if failures > MAX_RECONNECTS:
                raise ApiError(f"{reason}; gave up after {MAX_RECONNECTS} reconnects")
            progress.console.print(f"[yellow]{reason}; reconnecting…[/yellow]", highlight=False)
            time.sleep(min(10, failures))
