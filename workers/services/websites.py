"""Websites and their deployments, as their owner acts on them: the list, one website with its
history, promote and roll back, settings, delete. Each takes the acting user; another user's
website is 404."""

from __future__ import annotations

from workers.build import website_cache
from workers.jobs import deployments
from workers.store.db import session_scope
from workers.store.files import website_cache_dir
from workers.store.models import User


def websites(user: User) -> list[dict]:
    with session_scope() as session:
        return deployments.websites(session, user.id)


def website(user: User, website_id: int) -> dict:
    with session_scope() as session:
        return deployments.website_detail(session, user.id, website_id)


def promote(user: User, website_id: int, job_id: int) -> dict:
    """Make a completed, kept deployment live (rolling back is promoting an older one)."""
    with session_scope() as session:
        deployments.promote(session, user.id, website_id, job_id)
    return website(user, website_id)


def rollback(user: User, website_id: int) -> dict:
    """Back to the deployment that was live before the current one."""
    with session_scope() as session:
        deployments.rollback(session, user.id, website_id)
    return website(user, website_id)


def update(user: User, website_id: int, changes: dict) -> dict:
    """`changes`: any of name, slug, autoPublish."""
    with session_scope() as session:
        deployments.change_settings(session, user.id, website_id, changes)
    return website(user, website_id)


def delete(user: User, website_id: int, confirm: str) -> None:
    """Take the website down and free its disk; `confirm` is its name, typed by the user."""
    with session_scope() as session:
        deployments.delete(session, user.id, website_id, confirm)
    website_cache.forget(website_cache_dir(website_id))  # its deployments' files go with the commit (retention)
