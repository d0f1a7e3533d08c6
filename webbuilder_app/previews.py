"""Serve each published site on its own origin: http://<slug>.<preview domain>:<port>/.

A site is user code; on a subdomain it cannot read the app's cookies or storage, which are bound to
the app's own host. The slug is random (80 bits), so a site's URL cannot be guessed.
"""

from __future__ import annotations

import re

from starlette.responses import PlainTextResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from workers.config import settings
from workers.services import sites

SLUG_RE = re.compile(r"^[a-f0-9]{20}$")


_sites: dict[str, StaticFiles] = {}


def _site_app(slug: str) -> StaticFiles | None:
    """Published folders never change, so their file servers are kept (misses are not)."""
    if slug not in _sites:
        folder = settings().sites_dir / slug
        if not SLUG_RE.match(slug) or not folder.is_dir():
            return None
        _sites[slug] = StaticFiles(directory=folder, html=True)
    return _sites[slug]


def _slug_from_host(scope: Scope) -> str | None:
    host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1").split(":", 1)[0].lower()
    suffix = "." + settings().preview_domain
    if not host.endswith(suffix):
        return None
    return host[: -len(suffix)]


def _hidden(path: str) -> bool:
    """Dot-paths (`/.env`, `/.git/config`, `/a/../b`) are not served, whatever is on disk (sites
    published before dotfiles were left out hold some), except under the top-level `/.well-known/`:
    the rule publishing follows (workers.services.sites.hidden)."""
    return sites.hidden(tuple(part for part in path.split("/") if part))


def with_previews(app: ASGIApp) -> ASGIApp:
    """Wrap the app: requests for a site's host are served from its published folder."""

    async def router(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (slug := _slug_from_host(scope)) is not None:
            site = _site_app(slug)
            if site is None:
                await PlainTextResponse("No site is published here.", status_code=404)(scope, receive, send)
                return
            if _hidden(scope["path"]):
                await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
                return
            await site(scope, receive, send)
            return
        await app(scope, receive, send)

    return router
