"""Tables. The database is the single source of truth; Redis only wakes workers and browsers."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime | None) -> datetime | None:
    """A moment from the database with its zone: SQLite hands datetimes back naive; they were
    written in UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def iso(moment: datetime | None) -> str | None:
    """A moment as the API shows it (ISO 8601), or None."""
    return moment.isoformat() if moment else None


class JobStatus:
    """Job states as plain strings, so they read the same in SQL, JSON and the UI."""

    PENDING = "pending"
    QUEUED = "queued"
    BUILDING = "building"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.BUILDING, JobStatus.RUNNING)
IN_FLIGHT_STATUSES = (JobStatus.BUILDING, JobStatus.RUNNING)
TERMINAL_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
RETRYABLE_STATUSES = (JobStatus.FAILED, JobStatus.CANCELLED)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=64)
    # The username folded to lower case: names are unique ignoring case. None only for an account
    # that clashed with an older one when this rule came in (migration 0004 reports them).
    username_key: str | None = Field(default=None, index=True, unique=True, max_length=64)
    password_hash: str
    is_admin: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    # Where emails about finished builds go (sent only when the server has an SMTP server).
    email: str | None = Field(default=None, max_length=254)
    email_notifications: bool = False
    # Emails go only to a confirmed address: setting one mails a link whose page confirms it.
    email_verified_at: datetime | None = None
    email_verification_hash: str | None = Field(default=None, max_length=64)  # SHA-256 of the link's code
    email_verification_sent_at: datetime | None = None

    @property
    def email_confirmed(self) -> bool:
        """An address is set and its owner confirmed it: only then are emails sent to it."""
        return self.email is not None and self.email_verified_at is not None



class AuthToken(SQLModel, table=True):
    """A bearer token: sign-in sessions and API tokens. Only the SHA-256 of the token is stored.

    `handoff` is a sign-in that has not reached its browser yet: the sign-in form's one-time code,
    exchanged within a minute for the session cookie (the row becomes a `session`)."""

    __tablename__ = "auth_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    kind: str = Field(default="session", max_length=16)  # session | api | handoff
    name: str = Field(default="", max_length=100)
    client: str = Field(default="", max_length=200)  # sessions: the browser or program and address that signed in
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked: bool = False


class Website(SQLModel, table=True):
    """A user's site: a stable address (`slug`) serving one of its deployments (`live_job_id`); each
    build job of the website is a deployment with an address of its own (`BuildJob.site_slug`)."""

    __tablename__ = "websites"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(max_length=200)
    slug: str | None = Field(default=None, index=True, unique=True, max_length=63)
    type: str = Field(default="react", max_length=16)  # react | node | static
    build_job_id: int | None = None  # the newest job (the seed's build-status reports it)
    live_job_id: int | None = None  # the deployment the stable address serves
    auto_publish: bool = True  # a successful build goes live at once; off: it waits for Promote
    settings: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    deleted_at: datetime | None = None  # deleted: its addresses are down, its slugs stay taken


class WebsiteSlug(SQLModel, table=True):
    """Every slug a website has had. A renamed site's old slugs redirect to its current one, and no
    slug is ever given to another website, even after its own was deleted."""

    __tablename__ = "website_slugs"

    slug: str = Field(primary_key=True, max_length=63)
    website_id: int = Field(foreign_key="websites.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class Promotion(SQLModel, table=True):
    """A deployment made live: by whom (None: auto-publish of a successful build), when."""

    __tablename__ = "promotions"

    id: int | None = Field(default=None, primary_key=True)
    website_id: int = Field(foreign_key="websites.id", index=True)
    job_id: int = Field(foreign_key="build_jobs.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, index=True)


class BuildJob(SQLModel, table=True):
    __tablename__ = "build_jobs"

    id: int | None = Field(default=None, primary_key=True)
    website_id: int = Field(foreign_key="websites.id", index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    status: str = Field(default=JobStatus.PENDING, index=True, max_length=16)
    priority: int = 0
    progress: int = 0
    current_step: str = Field(default="", max_length=64)
    logs: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error_details: list | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    steps: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    preview_url: str | None = None
    site_slug: str | None = Field(default=None, index=True, max_length=64)
    source_hash: str | None = Field(default=None, index=True, max_length=64)
    source_files: int | None = None  # project size, for ETAs by size
    source_bytes: int | None = None
    site_bytes: int | None = None  # the published site's size, for the storage quota
    build_cache: str | None = Field(default=None, max_length=16)  # hit | miss | follow
    build_cache_reason: str | None = Field(default=None, max_length=200)
    follows_job_id: int | None = Field(default=None, index=True)  # an identical build this job waits for
    message: str | None = Field(default=None, max_length=500)  # the deployment's note from its uploader
    clean_build: bool = False  # "redeploy without cache": reuse nothing of the website's earlier builds
    retired_at: datetime | None = None  # retention deleted its files; its address answers 410
    notification_sent: bool = False  # its final notice (completed, failed, cancelled) is in the bell
    retry_of: int | None = None
    attempts: int = 0
    worker_id: str | None = Field(default=None, max_length=128)
    lease_expires_at: datetime | None = None
    cancel_requested: bool = False
    created_at: datetime = Field(default_factory=utcnow, index=True)
    started_at: datetime | None = None
    completed_at: datetime | None = None


class UserNotification(SQLModel, table=True):
    __tablename__ = "user_notifications"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    job_id: int | None = Field(default=None, foreign_key="build_jobs.id")
    type: str = Field(max_length=32)  # queued | started | completed | failed | cancelled
    title: str = Field(max_length=200)
    message: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    action_url: str | None = None
    read: bool = False
    created_at: datetime = Field(default_factory=utcnow, index=True)


class WebhookEndpoint(SQLModel, table=True):
    """A URL of the user's that is POSTed to when one of their builds completes or fails, signed with
    `secret` (generated by the server, shown to the user once)."""

    __tablename__ = "webhook_endpoints"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    url: str = Field(sa_column=Column(Text, nullable=False))
    secret: str = Field(max_length=64)
    enabled: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class DeliveryStatus:
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(SQLModel, table=True):
    """One event to send to one place (a webhook endpoint, or an email address), with its attempts.
    Written in the transaction that ends the job, so a crash or a lost Redis loses no delivery: a
    pending row whose time has come is sent by whichever worker sees it first."""

    __tablename__ = "webhook_deliveries"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    job_id: int | None = Field(default=None, foreign_key="build_jobs.id", index=True)  # none for a ping
    endpoint_id: int | None = Field(default=None, foreign_key="webhook_endpoints.id", index=True)  # webhooks only
    channel: str = Field(max_length=16)  # webhook | email
    event: str = Field(max_length=32)  # build.completed | build.failed | ping
    target: str = Field(sa_column=Column(Text, nullable=False))  # the URL or the email address, as sent
    status: str = Field(default=DeliveryStatus.PENDING, index=True, max_length=16)
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # When a pending delivery is due; while an attempt runs, the end of that attempt's claim.
    next_attempt_at: datetime | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    delivered_at: datetime | None = None


class SchedulerState(SQLModel, table=True):
    """One row. Claiming a job first updates it, which serialises claims on SQLite and PostgreSQL."""

    __tablename__ = "scheduler_state"

    id: int = Field(default=1, primary_key=True)
    claims: int = 0
    paused: bool = False
