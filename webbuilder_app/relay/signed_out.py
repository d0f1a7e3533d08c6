"""Tabs showing live feeds under a sign-in session that ended (signed out elsewhere, password
changed, expired) stop receiving them and are sent to sign in."""

from __future__ import annotations

import asyncio
import logging

import reflex as rx
from reflex.istate.manager.token import BaseStateToken
from reflex.state import StateUpdate
from reflex_base.event import Event

from workers.services import auth, live

from .notices import send_update

SWEEP_SECONDS = 2.0  # a tab of a session that ended is cut off within this (plus one push)
log = logging.getLogger(__name__)


async def end_signed_out_tabs(app: rx.App) -> None:
    """Lifespan task: the tabs of a session that ended are cut off within SWEEP_SECONDS. One query
    per sweep, over just the sessions that have such tabs (workers/services/live.py)."""
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            await _cut_off_ended_sessions(app)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis or the database away: the tabs' own next events re-check
            log.warning("could not check the sessions of open tabs: %s", exc)


async def _cut_off_ended_sessions(app: rx.App) -> None:
    watched = await asyncio.to_thread(live.sessions_with_tabs)
    if not watched:
        return
    shared_states = {cls.get_full_name(): cls for cls in rx.SharedState.__subclasses__()}
    for session_id in await asyncio.to_thread(auth.ended_sessions, watched):
        tabs = set()
        for state_name, shared_token, tab in await asyncio.to_thread(live.take_session_tabs, session_id):
            cls = shared_states.get(state_name)
            if cls is None:
                continue
            with app.set_contexts():
                async with app.state_manager.modify_state(BaseStateToken(ident=shared_token, cls=cls)) as root:
                    (await root.get_state(cls))._linked_from.discard(tab)
            tabs.add(tab)
        await send_update(app, StateUpdate(events=Event.from_event_type(rx.redirect("/login"))), tabs)
