"""Reading the SSE endpoint from a background thread, so a test can act and then wait for events."""

from __future__ import annotations

import queue
import threading
import time

from tests.api.conftest import LiveApi
from webbuilder_cli.sse import SseEvent, parse_sse

STREAM = "/api/website-builder/user/queue/stream"


class StreamReader:
    """One open connection to the stream; events (None for a heartbeat) with their arrival time."""

    def __init__(self, live: LiveApi, token: str, last_event_id: str | None = None):
        self.client = live.client(token)
        self.received: queue.Queue[tuple[float, SseEvent | None]] = queue.Queue()
        self.status: int | None = None
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        self.thread = threading.Thread(target=self._read, args=(headers,), daemon=True)
        self.thread.start()

    def _read(self, headers: dict) -> None:
        try:
            with self.client.stream("GET", STREAM, headers=headers) as response:
                self.status = response.status_code
                for event in parse_sse(response.iter_lines()):
                    self.received.put((time.monotonic(), event))
        except Exception:  # closed by the test
            pass

    def next_event(self, predicate=lambda e: True, timeout: float = 10) -> tuple[float, SseEvent]:
        """The next event (heartbeats skipped) that matches; earlier non-matching ones are dropped."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no matching event arrived in time")
            try:
                arrived, event = self.received.get(timeout=remaining)
            except queue.Empty:
                continue
            if event is not None and predicate(event):
                return arrived, event

    def events_until_heartbeats(self, count: int, timeout: float = 10) -> list[SseEvent]:
        """Everything that arrives before `count` heartbeats have (the stream went quiet meanwhile)."""
        seen, beats, deadline = [], 0, time.monotonic() + timeout
        while beats < count:
            _, event = self.received.get(timeout=max(0.01, deadline - time.monotonic()))
            if event is None:
                beats += 1
            else:
                seen.append(event)
        return seen

    def close(self) -> None:
        self.client.close()
        self.thread.join(timeout=5)


def job_event(job_id: int, status: str | None = None):
    def matches(event: SseEvent) -> bool:
        return event.event == "job_update" and event.data["job"]["id"] == job_id and status in (None, event.data["job"]["status"])

    return matches
