"""Linking a tab's live feed under its sign-in session, so that when the session ends (signed out
elsewhere, password changed, expired) the relay can cut the tab off within seconds
(webbuilder_app/relay, `end_signed_out_tabs`) instead of waiting for the tab's next event. The record
itself is the engine's (workers/services/live.py)."""

from __future__ import annotations

import reflex as rx

from workers.services import live

from .auth import AuthState


async def link_for_session(feed: rx.SharedState, shared_token: str) -> rx.SharedState:
    """Link this tab's `feed` to `shared_token` (the caller checked the user may see it), noting the
    tab under its session."""
    linked = await feed._link_to(shared_token)
    session_id = (await feed.get_state(AuthState))._session_id()
    if session_id is not None:
        live.remember_session_tab(session_id, type(feed).get_full_name(), shared_token, feed.router.session.client_token)
    return linked
