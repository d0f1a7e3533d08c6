"""One backend process relays change notices; another takes over when its lease runs out."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import redis.asyncio as aioredis

from workers.store.leadership import Lease


def test_one_holder_at_a_time_and_takeover_after_the_lease(redis_url):
    async def scenario() -> None:
        client = aioredis.Redis.from_url(redis_url)
        await client.delete("webbuilder:lease:test-relay")
        first, second = Lease(client, "test-relay", lease_ms=300), Lease(client, "test-relay", lease_ms=300)
        assert await first.hold()
        assert not await second.hold()
        assert await first.hold(), "the holder renews its own lease"
        deadline = time.monotonic() + 5
        while not await second.hold():  # the first holder stopped renewing (e.g. its process died)
            assert time.monotonic() < deadline, "the lease was never given up"
            await asyncio.sleep(0.05)
        assert not await first.hold()
        await client.aclose()

    # In a thread of its own: Playwright's session-wide browser keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()
