"""What the site server serves: a website's stable address → its live deployment's folder, a
retired deployment's website, the hidden entries of a published site, and the notices that tell
every web process a website's address changed."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import redis.asyncio as aioredis
from sqlmodel import select

from workers.build.site_collector import left_out
from workers.config import settings
from workers.store.db import session_scope
from workers.store.events import SITES_CHANNEL
from workers.store.models import BuildJob, Website, WebsiteSlug

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Address:
    """Where a website slug leads: the website (by its current slug) and its live deployment."""

    website_id: int
    slug: str
    site_slug: str | None  # the live deployment's published folder; None: nothing is live
    deleted: bool


def hidden(parts: tuple[str, ...]) -> bool:
    """Whether a request path's components name something publishing leaves out (a dot-entry at any
    depth, `.well-known/` excepted)."""
    return any(left_out(parts[: depth + 1]) == "dotfile" for depth in range(len(parts)))


def address(slug: str) -> Address | None:
    """The website that has (or had) `slug`, or None."""
    with session_scope() as session:
        row = session.exec(
            select(Website, BuildJob.site_slug, BuildJob.retired_at)
            .join(WebsiteSlug, WebsiteSlug.website_id == Website.id)
            .join(BuildJob, BuildJob.id == Website.live_job_id, isouter=True)
            .where(WebsiteSlug.slug == slug)
        ).first()
    if row is None:
        return None
    website, site_slug, retired_at = row
    return Address(website.id, website.slug, site_slug if retired_at is None else None, website.deleted_at is not None)


def retired_deployment_website(site_slug: str) -> str | None:
    """For a deployment's own address whose files retention deleted: its website's address (the
    410 page links there), or None when no retired deployment had it."""
    with session_scope() as session:
        row = session.exec(
            select(BuildJob.retired_at, Website.slug, Website.deleted_at)
            .join(Website, Website.id == BuildJob.website_id)
            .where(BuildJob.site_slug == site_slug)
        ).first()
    if row is None or row[0] is None or row[2] is not None:
        return None
    return settings().preview_url(row[1])


async def website_changes() -> AsyncIterator[int | None]:
    """The ids of websites whose address or live deployment changed, from every process, for as long
    as the caller listens; None after (re)connecting to Redis, when anything may have changed."""
    url = settings().redis_url
    if not url:
        log.error("REDIS_URL is not set: site addresses are re-read from the database every few seconds")
        return
    while True:
        try:
            client = aioredis.Redis.from_url(url)
            pubsub = client.pubsub()
            await pubsub.subscribe(SITES_CHANNEL)
            yield None
            async for message in pubsub.listen():
                if message["type"] != "message":
                    continue
                try:
                    yield int(json.loads(message["data"])["websiteId"])
                except (ValueError, KeyError, TypeError):
                    continue
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("site address notices lost Redis (%s); reconnecting", exc)
            await asyncio.sleep(1)
