"""The door in front of Reflex's websocket (`/_event`): who a socket may claim to be, and as whom it acts.

Reflex keys every tab's state by the `token` in the socket's query string and takes whatever a client
names there, so a client that named a shared state's key could read it. The frontend's tokens have
the shape of a v4 UUID (its generateUUID puts 8–f in the fourth group); anything else is refused before Socket.IO sees it, and shared states are keyed with
unguessable names of another shape (state/shared_tokens.py).

The sign-in session reaches the socket as the HttpOnly cookie of its handshake. The guard resolves it
to the session's row id and hands Reflex only that, in `SESSION_HEADER`; the cookie itself is dropped
from the headers, because Reflex keeps a connection's headers in the tab's state (pickled to disk or
Redis, and sent to the page). A client cannot send `SESSION_HEADER` itself: it is always replaced.
"""

from __future__ import annotations

import asyncio
import re
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

from reflex_base.config import get_config
from reflex_base.constants.event import Endpoint
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from workers.services import auth

SESSION_HEADER = "x-webbuilder-session"
CLIENT_TOKEN_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89a-f][0-9a-f]{3}-[0-9a-f]{12}$")


def client_token_of(scope: Scope) -> str:
    tokens = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [])
    return tokens[0] if len(tokens) == 1 else ""


def session_cookie(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"cookie":
            try:
                morsel = SimpleCookie(value.decode("latin-1")).get(auth.COOKIE_NAME)
            except CookieError:
                continue
            if morsel is not None:
                return morsel.value
    return None


async def _with_session(scope: Scope) -> Scope:
    """The scope with the cookie and any client-sent session header replaced by the session's id."""
    headers = [(name, value) for name, value in scope.get("headers") or [] if name not in (b"cookie", SESSION_HEADER.encode())]
    cookie = session_cookie(scope.get("headers") or [])
    session_id = await asyncio.to_thread(auth.session_id_for_token, cookie) if cookie else None
    if session_id is not None:
        headers.append((SESSION_HEADER.encode(), str(session_id).encode()))
    return {**scope, "headers": headers}


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})  # before accept: the handshake gets 403
        return
    await PlainTextResponse("This connection's token does not have the shape of the app's.", status_code=403)(scope, receive, send)


def guard_event_socket(app: ASGIApp) -> ASGIApp:
    """Wrap the app: `/_event` connections need a UUID token and act only as their cookie's session."""
    event_path = get_config().prepend_backend_path(str(Endpoint.EVENT))

    async def guard(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"].rstrip("/") == event_path.rstrip("/"):
            if not CLIENT_TOKEN_RE.match(client_token_of(scope)):
                await _refuse(scope, receive, send)
                return
            scope = await _with_session(scope)
        await app(scope, receive, send)

    return guard
