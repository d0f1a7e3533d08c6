"""A website's stable address: the slug of `http://<slug>.<preview domain>/`.

Slugs come from the website's name, are unique and DNS labels, never look like a deployment's own
address (20 hex digits), never take a reserved label, and are never given twice: every slug a website
has had stays in `website_slugs` (its old ones redirect to the new one).
"""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from workers.errors import UserError
from workers.store.models import Website, WebsiteSlug
from workers.text import slug_base

DEPLOYMENT_SHAPE = re.compile(r"^[a-f0-9]{20}$")  # a deployment's own address (publishing.new_site)
LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Labels an operator may want for the service itself, or that users would take for it.
RESERVED = frozenset({
    "www", "api", "app", "apps", "admin", "administrator", "auth", "login", "signin", "signup", "account", "accounts",
    "dashboard", "ops", "metrics", "status", "health", "docs", "help", "support", "mail", "email", "smtp",
    "imap", "pop", "ftp", "ssh", "vpn", "ns1", "ns2", "dns", "cdn", "static", "assets", "media", "files", "img",
    "images", "preview", "previews", "staging", "stage", "dev", "test", "internal", "localhost", "webbuilder",
})


def problem(slug: str) -> str | None:
    """Why `slug` cannot be a website's address, or None."""
    if not LABEL.match(slug):
        return "An address may use lower-case letters, digits and hyphens (not first or last), at most 63 characters."
    if DEPLOYMENT_SHAPE.match(slug):
        return "An address may not be 20 hexadecimal digits: that is the shape of a deployment's own address."
    if slug in RESERVED:
        return f'"{slug}" is reserved.'
    return None


def candidates(name: str):
    """Slugs to try for a new website called `name`, best first."""
    base = slug_base(name) or "site"
    if problem(base):
        base = f"{base}-site"
    yield base
    for number in range(2, 10_000):
        yield f"{base}-{number}"


def assign_new(session: Session, website: Website) -> str:
    """Give a just-flushed website the first free slug its name suggests."""
    for slug in candidates(website.name):
        if _claim(session, website, slug):
            return slug
    raise UserError("No free address is left for this name; choose one.", 409)


def assign(session: Session, website: Website, slug: str) -> None:
    """Give `website` the address the user asked for: 422 if it cannot be one, 409 if another website
    has (or had) it. One of the website's own earlier slugs may be taken back."""
    slug = slug.strip().lower()
    if (reason := problem(slug)) is not None:
        raise UserError(reason, 422)
    owner = session.get(WebsiteSlug, slug)
    if owner is not None:
        if owner.website_id != website.id:
            raise UserError(f'The address "{slug}" is taken.', 409)
        website.slug = slug
        return
    if not _claim(session, website, slug):
        raise UserError(f'The address "{slug}" is taken.', 409)


def _claim(session: Session, website: Website, slug: str) -> bool:
    """Record `slug` for `website` in a savepoint: a concurrent claim of the same slug fails only it."""
    if session.get(WebsiteSlug, slug) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(WebsiteSlug(slug=slug, website_id=website.id))
    except IntegrityError:
        return False
    website.slug = slug
    return True
