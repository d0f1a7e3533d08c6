"""A lease on Redis that lets one of several processes do a job the others must not repeat.

Every backend process of the web app hears every change notice; with several of them (Reflex on its
Redis state manager), each would re-read the same rows and push the same update. The process that
holds the lease relays; the others stand by and take over within LEASE_MS if it dies. The lease is
taken or renewed by whoever needs it, atomically, so no timer is needed.
"""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis

LEASE_MS = 5000
_TAKE_OR_RENEW = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end
return 0
"""


class Lease:
    def __init__(self, client: aioredis.Redis, name: str, lease_ms: int = LEASE_MS):
        self._client, self._key, self._lease_ms = client, f"webbuilder:lease:{name}", lease_ms
        self._holder = uuid.uuid4().hex
        self._take_or_renew = client.register_script(_TAKE_OR_RENEW)

    async def hold(self) -> bool:
        """True if this process holds the lease now (taking it if free, renewing it if ours)."""
        return bool(await self._take_or_renew(keys=[self._key], args=[self._holder, self._lease_ms]))
