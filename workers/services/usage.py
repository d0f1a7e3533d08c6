"""What the user has used of their quotas (workers/jobs/quotas.py): the API's /user/usage and the queue page."""

from __future__ import annotations

from workers.jobs import quotas
from workers.store.db import session_scope
from workers.store.models import User

human_bytes = quotas.human_bytes  # "1.5 MB", as the usage figures are shown


def usage(user: User) -> dict:
    """Storage used and allowed, active builds, uploads in the last hour, each with its allowance
    (None: no limit, as for admins)."""
    with session_scope() as session:
        return quotas.usage(session, user)
