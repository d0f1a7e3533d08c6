"""Change notices → the users' shared feeds: `relay_changes`, a lifespan task of every backend
process, of which the one holding the relay lease re-reads the user's rows, and the changed jobs and
websites, from the database once into the shared states (webbuilder_app/state: feed.py, job.py,
websites.py) and sends the one resulting delta to every linked tab. Toasts are the one per-tab
part: each tab is asked to announce what it has not shown yet. Nothing polls on a timer.

In one backend process the relay does its own fan-out instead of Reflex's: Reflex updates a shared
state's tabs one by one, opening each tab's whole state and scanning every linked tab for each, which
made 50 tabs on one job take about 300 ms. The delta of a shared state is the same for every tab
linked to it, because no per-tab state computes anything from the shared ones (keep it that way), so
it is computed once. With several backend processes (Reflex's Redis state manager) the relay leaves
the fan-out to Reflex: there, sending past the tabs' own locks stalled page loads now and then.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass, field

import redis.asyncio as aioredis
import reflex as rx
from reflex.istate.manager.redis import StateManagerRedis
from reflex.istate.manager.token import BaseStateToken
from reflex.state import StateUpdate
from reflex_base.event import Event

from webbuilder_app.state.feed import NotificationFeedState, QueueFeedState, WebsitesFeedState, feed_token
from webbuilder_app.state.job import JobFeedState, job_token
from webbuilder_app.state.notifications import NotificationState
from webbuilder_app.state.websites import WebsiteFeedState, website_token
from workers.config import settings
from workers.errors import UserError
from workers.services import auth, builds
from workers.store.events import CHANNEL_PREFIX, Change
from workers.store.leadership import Lease
from workers.store.models import User

COALESCE_SECONDS = 0.015
log = logging.getLogger(__name__)


class _Unwatched:
    """Shared states the relay found no tab linked to, so later changes skip opening them: most
    notices (builds of API and CLI users, everyone's queue moving on each upload) concern nobody
    looking. A tab that links announces it (a "watch" notice of its user, which names no website),
    which takes all of that user's states off the list: each is looked at again at its next change.
    Bounded: an entry pushed out only costs one more look."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self._keys: OrderedDict[tuple[str, str], int] = OrderedDict()  # (state, shared token) → its user
        self._by_user: dict[int, set[tuple[str, str]]] = {}

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._keys

    def add(self, user_id: int, key: tuple[str, str]) -> None:
        self._keys[key] = user_id
        self._keys.move_to_end(key)
        self._by_user.setdefault(user_id, set()).add(key)
        if len(self._keys) > self.LIMIT:
            oldest, owner = self._keys.popitem(last=False)
            self._forget(owner, oldest)

    def discard(self, key: tuple[str, str]) -> None:
        owner = self._keys.pop(key, None)
        if owner is not None:
            self._forget(owner, key)

    def discard_user(self, user_id: int) -> None:
        for key in self._by_user.pop(user_id, ()):
            del self._keys[key]

    def _forget(self, owner: int, key: tuple[str, str]) -> None:
        keys = self._by_user[owner]
        keys.discard(key)
        if not keys:
            del self._by_user[owner]


_unwatched = _Unwatched()


class _JobWebsites:
    """Which website each job deploys (it never changes), for the job notices, which name only the
    job: looked up once per job, as its owner, bounded like `_Unwatched`."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self._websites: OrderedDict[tuple[int, int], int] = OrderedDict()  # (user, job) → website

    async def of(self, user: User, job_ids: set[int]) -> set[int]:
        found = set()
        for job_id in job_ids:
            key = (user.id, job_id)
            if key not in self._websites:
                try:
                    detail = await asyncio.to_thread(builds.job_detail, user, job_id)
                except UserError:  # not this user's, or gone
                    continue
                self._websites[key] = detail["websiteId"]
                if len(self._websites) > self.LIMIT:
                    self._websites.popitem(last=False)
            found.add(self._websites[key])
        return found


_job_websites = _JobWebsites()


async def send_update(app: rx.App, update: StateUpdate, tabs: set[str]) -> None:
    """One update to each connected tab, wherever its socket lives (Reflex relays to the backend
    process holding it)."""
    namespace = app.event_namespace

    async def to_tab(tab: str) -> None:
        try:
            if await namespace._token_manager.is_token_connected(tab):
                await namespace.emit_update(update, tab)
        except Exception as exc:  # a tab closing meanwhile
            log.debug("could not reach tab %s: %s", tab, exc)

    await asyncio.gather(*(to_tab(tab) for tab in tabs))


async def _reload_shared(app: rx.App, user: User, cls: type[rx.SharedState], ident: str, *load_args) -> set[str]:
    """Re-read one shared state of `user`'s if any tab has it linked and send those tabs the change;
    returns them. `load_args` follow `user` to the state's `_load`."""
    key = (cls.__name__, ident)
    if key in _unwatched:
        return set()
    delta = {}
    token = BaseStateToken(ident=ident, cls=cls)
    if isinstance(app.state_manager, StateManagerRedis):
        async with app.modify_state(token) as root:  # Reflex fans the change out to the tabs
            shared = await root.get_state(cls)
            tabs = set(shared._linked_from)
            if tabs:
                shared._load(user, *load_args)
    else:
        tabs, delta = await _reload_once(app, cls, token, (user, *load_args))
    if tabs:
        _unwatched.discard(key)
    else:
        _unwatched.add(user.id, key)
    if delta:
        await send_update(app, StateUpdate(delta=delta), tabs)
    return tabs


async def _reload_once(app: rx.App, cls: type[rx.SharedState], token: BaseStateToken, load_args) -> tuple[set[str], dict]:
    """Re-read the shared state if any tab has it linked; returns those tabs and the state's delta."""
    delta = {}
    with app.set_contexts():
        # The state manager's own modify_state: app.modify_state would start Reflex's per-tab fan-out.
        async with app.state_manager.modify_state(token) as root:
            shared = await root.get_state(cls)
            tabs = set(shared._linked_from)
            if tabs:  # nobody watching: a tab that opens later reads the database when it links
                shared._load(*load_args)
                # Only the shared state's part: the rest of this tree (router, hydration) is the
                # shared token's own and would overwrite the tabs'.
                name = shared.get_full_name()
                delta = {key: values for key, values in (await root._get_resolved_delta()).items() if key == name}
            root._clean()
    return tabs, delta


async def _push(app: rx.App, user_id: int, changes: _Changes) -> None:
    """Re-read what changed once, into the shared states, and send the tabs the deltas."""
    user = await asyncio.to_thread(auth.account, user_id)
    if user is None:
        return
    if changes.queue:
        await _reload_shared(app, user, QueueFeedState, feed_token(user_id))
    for job_id in changes.job_ids:
        await _reload_shared(app, user, JobFeedState, job_token(job_id), job_id)
    if changes.websites:
        await _reload_shared(app, user, WebsitesFeedState, feed_token(user_id))
    for website_id in changes.website_ids | await _job_websites.of(user, changes.job_ids):
        await _reload_shared(app, user, WebsiteFeedState, website_token(user_id, website_id), website_id)
    if not changes.notifications:
        return
    tabs = await _reload_shared(app, user, NotificationFeedState, feed_token(user_id))
    if not changes.announce:
        return
    # Toasts are per tab (each tab announces what it has not shown yet), so each tab is asked.
    await send_update(app, StateUpdate(events=Event.from_event_type(NotificationState.announce)), tabs)


async def relay_changes(app: rx.App) -> None:
    """Lifespan task: Redis change notices → the users' shared feeds. Reconnects if Redis drops.
    With several backend processes, the one holding the relay lease does it."""
    url = settings().redis_url
    if not url:
        log.error("REDIS_URL is not set: live updates are off")
        return
    while True:
        try:
            client = aioredis.Redis.from_url(url)
            relay = Lease(client, "relay")  # one backend process relays; the others stand by
            pubsub = client.pubsub()
            await pubsub.psubscribe(CHANNEL_PREFIX + "*")
            async for message in pubsub.listen():
                if message["type"] != "pmessage":
                    continue
                pending = await _burst(pubsub, message)
                if not await relay.hold():
                    continue
                for user_id, changes in pending.items():
                    try:
                        await _push(app, user_id, changes)
                    except Exception:
                        log.exception("live update for user %s failed", user_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("live updates lost Redis (%s); reconnecting", exc)
            await asyncio.sleep(1)


@dataclass
class _Changes:
    job_ids: set[int] = field(default_factory=set)
    website_ids: set[int] = field(default_factory=set)  # their live deployment, address or settings changed
    queue: bool = False  # a job of the user, or the user's place in the queue, changed
    websites: bool = False  # a job or a website of the user changed: their list of websites
    notifications: bool = False  # a notification was added or read
    announce: bool = False  # a notification was added: tabs toast it


async def _burst(pubsub, first: dict) -> dict[int, _Changes]:
    """`first` and the notices that follow it within COALESCE_SECONDS, by user: builds publish in
    bursts, and one database read per user per burst is enough. The window is fixed, so a steady
    stream of notices cannot hold the pushes back."""
    pending: dict[int, _Changes] = {}
    _collect(first, pending)
    loop = asyncio.get_running_loop()
    window_ends = loop.time() + COALESCE_SECONDS
    while (left := window_ends - loop.time()) > 0:
        more = await pubsub.get_message(timeout=left)
        if more is None:
            break
        if more["type"] == "pmessage":
            _collect(more, pending)
    return pending


def _collect(message: dict, pending: dict[int, _Changes]) -> None:
    try:
        data = json.loads(message["data"])
        user_id = int(data["userId"])
    except (ValueError, KeyError, TypeError):
        return
    changes = pending.setdefault(user_id, _Changes())
    kind, job_id, website_id = data.get("type"), data.get("jobId"), data.get("websiteId")
    if job_id:
        changes.job_ids.add(int(job_id))
    if website_id:
        changes.website_ids.add(int(website_id))
    if kind == Change.WATCH:  # every process keeps its list right, should it take the relay over
        _unwatched.discard_user(user_id)
    changes.queue |= kind in (Change.JOB, Change.QUEUE, Change.WATCH)
    changes.websites |= kind in (Change.JOB, Change.WEBSITE, Change.WATCH)
    changes.notifications |= kind in (Change.NOTIFICATION, Change.NOTIFICATIONS_READ, Change.WATCH)
    changes.announce |= kind == Change.NOTIFICATION
