"""The operators' use cases: the Ops dashboard, pausing dispatch, and who may read /metrics.

Each takes the acting user and refuses anyone but an admin (UserError 403).
"""

from __future__ import annotations

from workers.config import settings
from workers.errors import UserError
from workers.net.client_address import in_networks
from workers.ops import dashboard
from workers.ops.metrics import BuildCollector
from workers.queue import heartbeats, scheduler
from workers.store.db import session_scope
from workers.store.models import User

WINDOWS = dashboard.WINDOWS
__all__ = ["BuildCollector", "WINDOWS", "dashboard_view", "metrics_open_to", "toggle_paused"]


def _admin(user: User | None) -> User:
    if user is None or not user.is_admin:
        raise UserError("Only admins can see and change operations.", 403)
    return user


def dashboard_view(user: User | None, window: str) -> dict:
    """What the Ops page shows: jobs in flight, per-user counts, history buckets and cache hit
    rates over `window`, host load, whether dispatch is paused, live workers (empty if Redis is down)."""
    _admin(user)
    with session_scope() as session:
        jobs = dashboard.active_jobs(session)
        stats = dashboard.history(session, window)
    try:
        workers = heartbeats.workers_alive()
    except Exception:  # Redis unreachable: say so through an empty list rather than fail the page
        workers = []
    return {"jobs": jobs, "users": dashboard.per_user(jobs), "stats": stats, "host": dashboard.host_load(),
            "paused": scheduler.dispatching_paused(), "workers": workers}


def toggle_paused(user: User | None) -> bool:
    """Pause dispatching if it runs, resume it if paused (running builds carry on); the new state."""
    _admin(user)
    scheduler.set_paused(not scheduler.dispatching_paused())
    return scheduler.dispatching_paused()


def metrics_open_to(address: str) -> bool:
    """Whether a scraper at `address` may read /metrics without an admin token."""
    return in_networks(address, settings().metrics_allow)
