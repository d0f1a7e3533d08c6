"""Waking workers: a message with no job, sent by actor name (this layer never imports the actors).

The worker that takes it asks the database for the next job, so a lost message (Redis restarted
empty) costs nothing but time; the periodic maintenance re-sends wakes while jobs wait and slots are free.
"""

from __future__ import annotations

import logging

from workers.store import broker

log = logging.getLogger(__name__)


def wake(count: int = 1) -> None:
    """Ask `count` workers to look for work. Never raises: the periodic maintenance retries."""
    try:
        for _ in range(count):
            broker.send(broker.RUN_NEXT_BUILD)
    except Exception as exc:
        log.warning("could not wake a worker (will retry from maintenance): %s", exc)
