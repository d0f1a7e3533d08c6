"""The live relay gathers a burst of change notices into one push per user, and a steady stream of
notices (a busy build service) cannot keep it from pushing."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

from webbuilder_app.relay.notices import COALESCE_SECONDS, _burst


def _notice(kind: str, user_id: int, job_id: int | None = None) -> dict:
    return {"type": "pmessage", "data": json.dumps({"type": kind, "userId": user_id, "jobId": job_id})}


class EndlessNotices:
    """A pub/sub that always has another notice a moment later, as during an upload burst."""

    def __init__(self, spacing: float) -> None:
        self.spacing, self.served = spacing, 0

    async def get_message(self, timeout: float) -> dict | None:
        if self.served >= 200:
            raise AssertionError("the relay kept gathering notices and never pushed")
        await asyncio.sleep(min(self.spacing, timeout))
        self.served += 1
        return _notice("job_update", 1 + self.served % 3, self.served)


class Quiet:
    async def get_message(self, timeout: float) -> dict | None:
        await asyncio.sleep(timeout)
        return None


def _run(coroutine):
    # In a thread of its own: Playwright's session-wide browser keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_a_steady_stream_of_notices_is_cut_into_bursts():
    async def scenario():
        stream = EndlessNotices(spacing=COALESCE_SECONDS / 5)
        loop = asyncio.get_running_loop()
        began = loop.time()
        pending = await _burst(stream, _notice("notification", 7, 1))
        return loop.time() - began, pending, stream.served

    took, pending, served = _run(scenario())
    assert took < COALESCE_SECONDS * 4, f"the relay waited {took:.3f} s for the stream to pause"
    assert served >= 2, "notices arriving inside the window join the burst"
    assert pending[7].notifications and pending[7].announce
    assert sum(len(changes.job_ids) for changes in pending.values()) == served + 1  # the first's job too


def test_one_notice_alone_is_pushed_after_the_window():
    async def scenario():
        return await _burst(Quiet(), _notice("job_update", 3, 42))

    pending = _run(scenario())
    assert set(pending) == {3}
    assert pending[3].job_ids == {42} and pending[3].queue and not pending[3].notifications
