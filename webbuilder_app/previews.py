"""Serve published sites, each on its own origin under the preview domain:

- `http://<website slug>.<domain>:<port>/`, a website's stable address, serves its live deployment;
  a slug the website had before a rename redirects to its current one;
- `http://<20 hex>.<domain>:<port>/`, a deployment's own address (80 random bits, so it cannot be
  guessed), serves exactly what that build published; once retention deleted it, 410.

A site is user code; on a subdomain it cannot read the app's cookies or storage, which are bound to
the app's own host. At the stable address HTML (and anything else without a content hash in its
name) is sent `no-cache`, so a promote shows at the next load; hashed assets are cacheable for good.
The slug → deployment lookup is cached per process and dropped when any web process hears that the
website changed (`_watch_addresses`); entries also expire, in case a notice was lost.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections import OrderedDict

from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workers.config import settings
from workers.services import sites

DEPLOYMENT_RE = re.compile(r"^[a-f0-9]{20}$")
# Vite's assets/name-<hash>.js and Create React App's static/js/name.<hash>.js
HASHED_RE = re.compile(r"^/(assets|static)/(.+/)?[^/]+[.-][A-Za-z0-9_-]{8,}\.[A-Za-z0-9]+$")
ADDRESS_SECONDS = 30.0  # the longest a lost notice can leave a stale address
FILE_SERVERS = 1000
IMMUTABLE = b"public, max-age=31536000, immutable"


class _FileServers:
    """A file server per published folder (their files never change), the most recently used kept."""

    def __init__(self) -> None:
        self._servers: OrderedDict[str, StaticFiles] = OrderedDict()

    def get(self, site_slug: str) -> StaticFiles | None:
        folder = settings().sites_dir / site_slug
        if not DEPLOYMENT_RE.match(site_slug) or not folder.is_dir():  # a retired site's folder is gone
            self._servers.pop(site_slug, None)
            return None
        server = self._servers.get(site_slug)
        if server is None:
            server = self._servers[site_slug] = StaticFiles(directory=folder, html=True)
            if len(self._servers) > FILE_SERVERS:
                self._servers.popitem(last=False)
        self._servers.move_to_end(site_slug)
        return server


class _Addresses:
    """Website slug → where it leads, per process. Only found slugs are kept (by website, so a
    notice about the website drops them); a slug nobody has is looked up each time."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[sites.Address, float]] = {}
        self._forgotten = 0  # counts `forget` calls: a lookup that overlapped one is not kept

    async def get(self, slug: str) -> sites.Address | None:
        entry = self._entries.get(slug)
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]
        before = self._forgotten
        found = await asyncio.to_thread(sites.address, slug)  # the database, off the event loop
        if found is None or before != self._forgotten:  # it may have read what a notice just changed
            self._entries.pop(slug, None)
        else:
            self._entries[slug] = (found, time.monotonic() + ADDRESS_SECONDS)
        return found

    def forget(self, website_id: int | None) -> None:
        """Drop what is known of one website (None: of all)."""
        self._forgotten += 1
        if website_id is None:
            self._entries.clear()
            return
        for slug in [slug for slug, (found, _) in self._entries.items() if found.website_id == website_id]:
            self._entries.pop(slug, None)


_files = _FileServers()
_addresses = _Addresses()


_watcher: asyncio.Task | None = None


def _watch_addresses() -> None:
    """From the first site request on, drop the cached addresses of websites any process changed (a
    promote, a rename). Started here rather than as a lifespan task, so whatever server runs
    `with_previews` keeps its cache true; the subscription clears the cache once it is listening."""
    global _watcher
    loop = asyncio.get_running_loop()
    if _watcher is None or _watcher.done() or _watcher.get_loop() is not loop:
        _addresses.forget(None)  # nobody listened until now: what is cached may be stale
        _watcher = loop.create_task(_forget_changed())


async def _forget_changed() -> None:
    async for website_id in sites.website_changes():
        _addresses.forget(website_id)


def _label_from_host(scope: Scope) -> str | None:
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


def _retired_page(website_url: str | None):
    link = f'<p>The website lives on at <a href="{html.escape(website_url)}">{html.escape(website_url)}</a>.</p>' if website_url else ""
    body = f"<!doctype html><title>Deployment retired</title><h1>This deployment was retired</h1><p>Its files were deleted to keep the newest deployments.</p>{link}"
    return HTMLResponse(body, status_code=410, headers={"Cache-Control": "no-cache"})


def _with_cache_headers(send: Send, path: str) -> Send:
    """At a stable address: hashed assets cacheable for good, everything else revalidated."""
    value = IMMUTABLE if HASHED_RE.match(path) else b"no-cache"

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(name, val) for name, val in message.get("headers", []) if name.lower() != b"cache-control"]
            message = {**message, "headers": [*headers, (b"cache-control", value)]}
        await send(message)

    return sending


async def _serve_deployment(site_slug: str, scope: Scope, receive: Receive, send: Send) -> None:
    server = _files.get(site_slug)
    if server is not None:
        await server(scope, receive, send)
    elif (website_url := await asyncio.to_thread(sites.retired_deployment_website, site_slug)) is not None:
        await _retired_page(website_url)(scope, receive, send)
    else:
        await PlainTextResponse("No site is published here.", status_code=404)(scope, receive, send)


async def _serve_website(slug: str, scope: Scope, receive: Receive, send: Send) -> None:
    _watch_addresses()
    found = await _addresses.get(slug)
    if found is None or found.deleted:
        await PlainTextResponse("No site is published here.", status_code=404)(scope, receive, send)
        return
    if found.slug != slug:  # renamed: the old address leads to the new one
        query = scope.get("query_string", b"").decode("latin-1")
        target = settings().preview_url(found.slug).rstrip("/") + scope["path"] + (f"?{query}" if query else "")
        await RedirectResponse(target, status_code=308)(scope, receive, send)
        return
    server = _files.get(found.site_slug) if found.site_slug else None
    if server is None:
        await PlainTextResponse("Nothing is live at this address yet.", status_code=404, headers={"Cache-Control": "no-cache"})(scope, receive, send)
        return
    await server(scope, receive, _with_cache_headers(send, scope["path"]))


def with_previews(app: ASGIApp) -> ASGIApp:
    """Wrap the app: requests for a site's host are served from its published folder."""

    async def router(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (label := _label_from_host(scope)) is not None:
            if _hidden(scope["path"]):
                await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            elif DEPLOYMENT_RE.match(label):
                await _serve_deployment(label, scope, receive, send)
            else:
                await _serve_website(label, scope, receive, send)
            return
        await app(scope, receive, send)

    return router
