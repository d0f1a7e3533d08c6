"""The Dramatiq broker: Redis, only as a way to wake a worker.

Lower layers send messages by actor name (`send`), so they never import the actors module; the
actors (workers.runtime.actors) declare the same names on the same broker.
"""

from __future__ import annotations

import functools

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from workers.config import settings

# (actor name, queue name) of the messages lower layers send.
RUN_NEXT_BUILD = ("run_next_build", "builds")
SEND_DELIVERY = ("send_delivery", "deliveries")


def configure() -> RedisBroker:
    """This process's broker for the current REDIS_URL, set as Dramatiq's global one."""
    url = settings().redis_url
    if not url:
        raise RuntimeError("REDIS_URL is not set (the run command starts an embedded Valkey and sets it)")
    broker = _broker_for(url)
    dramatiq.set_broker(broker)
    return broker


@functools.cache
def _broker_for(url: str) -> RedisBroker:
    return RedisBroker(url=url, heartbeat_timeout=15_000)


def send(actor: tuple[str, str], *args: object, delay_ms: int | None = None) -> None:
    """Enqueue a message for the actor named `actor` (see the constants above)."""
    name, queue = actor
    message = dramatiq.Message(queue_name=queue, actor_name=name, args=args, kwargs={}, options={})
    configure().enqueue(message, delay=delay_ms)
