"""A user's own rows, or 404 (another user's job or website reads as missing), and the checks of
what a user names and writes about them."""

from __future__ import annotations

from sqlmodel import Session

from workers.errors import UserError
from workers.store.models import BuildJob, Website
from workers.text import has_control_characters

MAX_NAME = 200
MAX_MESSAGE = 500


def owned_job(session: Session, user_id: int, job_id: int) -> BuildJob:
    job = session.get(BuildJob, job_id)
    if job is None or job.user_id != user_id:
        raise UserError("Job not found.", 404)
    return job


def owned_website(session: Session, user_id: int, website_id: int) -> Website:
    """The user's website; a deleted one is gone for its owner too."""
    website = session.get(Website, website_id)
    if website is None or website.user_id != user_id or website.deleted_at is not None:
        raise UserError("Website not found.", 404)
    return website


def check_name(name: object) -> str:
    name = str(name or "").strip()
    if not name:
        raise UserError("Give the website a name.", 422)
    if len(name) > MAX_NAME:
        raise UserError(f"The name is longer than {MAX_NAME} characters.", 422)
    if has_control_characters(name):
        raise UserError("The name may not contain control characters.", 422)
    return name


def clean_message(message: object) -> str | None:
    """A deployment's note as given (upload form, CLI --message, API `message`): one line of text."""
    text = " ".join(str(message or "").split())
    if has_control_characters(text):
        raise UserError("The message may not contain control characters.", 422)
    if len(text) > MAX_MESSAGE:
        raise UserError(f"The message is longer than {MAX_MESSAGE} characters.", 422)
    return text or None
