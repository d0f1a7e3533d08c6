"""The Dramatiq broker: Redis, only as a way to wake a worker."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from workers.config import settings


def configure() -> RedisBroker:
    url = settings().redis_url
    if not url:
        raise RuntimeError("REDIS_URL is not set (the run command starts an embedded Valkey and sets it)")
    broker = RedisBroker(url=url, heartbeat_timeout=15_000)
    dramatiq.set_broker(broker)
    return broker
