"""The relay's routing for websites: which notices refresh the websites list and which website page,
how a job notice finds its website, and how a watch notice re-opens only its own user's feeds."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

from tests.helpers import make_user, queue_project
from tests.projects import static_site
from webbuilder_app.relay.notices import _Changes, _collect, _JobWebsites, _Unwatched
from workers.services import auth, websites
from workers.store.events import Change


def _collected(*notices: dict) -> dict[int, _Changes]:
    pending: dict[int, _Changes] = {}
    for notice in notices:
        _collect({"type": "pmessage", "data": json.dumps(notice)}, pending)
    return pending


def test_website_and_job_notices_refresh_the_websites_but_queue_moves_do_not():
    pending = _collected(
        {"type": Change.WEBSITE, "userId": 1, "jobId": 7, "websiteId": 3},
        {"type": Change.JOB, "userId": 2, "jobId": 8, "websiteId": None},
        {"type": Change.QUEUE, "userId": 4, "jobId": None},
    )
    assert (pending[1].website_ids, pending[1].job_ids, pending[1].websites) == ({3}, {7}, True)
    assert (pending[2].website_ids, pending[2].job_ids, pending[2].websites) == (set(), {8}, True)
    assert (pending[4].websites, pending[4].queue) == (False, True)


def test_a_watch_notice_reopens_its_users_states_only():
    unwatched = _Unwatched()
    unwatched.add(1, ("WebsiteFeedState", "a-w3"))
    unwatched.add(1, ("QueueFeedState", "a"))
    unwatched.add(2, ("WebsiteFeedState", "b-w4"))
    unwatched.discard_user(1)
    assert ("WebsiteFeedState", "a-w3") not in unwatched and ("QueueFeedState", "a") not in unwatched
    assert ("WebsiteFeedState", "b-w4") in unwatched
    unwatched.discard_user(1)  # nothing left of that user's: no error


def test_the_list_stays_bounded_and_consistent():
    unwatched = _Unwatched()
    unwatched.LIMIT = 2
    for number in range(3):
        unwatched.add(number, ("JobFeedState", f"j{number}"))
    assert ("JobFeedState", "j0") not in unwatched and ("JobFeedState", "j2") in unwatched
    unwatched.discard_user(0)  # its one entry was pushed out already
    unwatched.discard_user(2)
    assert ("JobFeedState", "j2") not in unwatched and ("JobFeedState", "j1") in unwatched


def _run(coroutine):
    # In a thread of its own, as in test_relay_burst.py.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_a_jobs_website_is_found_as_its_owner_only(env, tmp_path):
    alice, bob = auth.account(make_user("alice")), auth.account(make_user("bob"))
    job_id = queue_project(alice.id, static_site(tmp_path / "site"), name="Alice's site")
    (website,) = websites.websites(alice)
    looked_up = _JobWebsites()
    assert _run(looked_up.of(bob, {job_id})) == set()
    assert _run(looked_up.of(alice, {job_id})) == {website["id"]}
    assert _run(looked_up.of(bob, {job_id})) == set()  # not answered from Alice's lookup
