"""Headers on every answer of the app itself (pages, API): no other site may frame its pages (so a
published site cannot overlay a signed-in page to steer clicks), and browsers take each response
for the type it declares, never sniffing an upload or a log into a script or a page.

Placed inside `with_previews` in the app's wrappers, so the published sites, which are the users'
own pages on their own origins, are served as they are."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

APP_HEADERS = ((b"content-security-policy", b"frame-ancestors 'self'"), (b"x-content-type-options", b"nosniff"))
_NAMES = {name for name, _ in APP_HEADERS}


def with_security_headers(app: ASGIApp) -> ASGIApp:
    """Wrap the app: each HTTP response gets APP_HEADERS, replacing any of the same names."""

    async def wrapper(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(name, value) for name, value in message.get("headers", []) if name.lower() not in _NAMES]
                message = {**message, "headers": [*kept, *APP_HEADERS]}
            await send(message)

        await app(scope, receive, send_with_headers)

    return wrapper
