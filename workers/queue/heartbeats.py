"""Which worker processes are alive: a key in Redis each one refreshes from its maintenance loop; a
key that expires means that worker stopped beating (the Ops page's "workers alive")."""

from __future__ import annotations

import json
import os
import socket

from workers.store import events
from workers.store.models import utcnow

HEARTBEAT_PREFIX = "webbuilder:worker:"
HEARTBEAT_TTL_SECONDS = 15  # three missed beats of the 5 s maintenance loop


def beat() -> None:
    """Record that this worker process is alive. Called every few seconds; never raises."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    value = json.dumps({"name": name, "host": socket.gethostname(), "pid": os.getpid(),
                        "seenAt": utcnow().isoformat()})
    try:
        events.redis_client().set(HEARTBEAT_PREFIX + name, value, ex=HEARTBEAT_TTL_SECONDS)
    except Exception:  # Redis down: the page shows no workers, which is then the truth
        pass


def workers_alive() -> list[dict]:
    client = events.redis_client()
    keys = sorted(client.scan_iter(match=HEARTBEAT_PREFIX + "*", count=500))
    values = client.mget(keys) if keys else []
    return [json.loads(value) for value in values if value]
