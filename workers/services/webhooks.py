"""The user's webhooks: list, add, enable or disable, remove, send a test, recent deliveries."""

from __future__ import annotations

from workers.notify import deliveries, webhooks
from workers.store.db import session_scope
from workers.store.models import User


def list_webhooks(user: User) -> list[dict]:
    with session_scope() as session:
        return [webhooks.endpoint_view(row) for row in webhooks.endpoints(session, user.id)]


def create(user: User, url: str, enabled: bool = True) -> tuple[dict, str]:
    """A new webhook: its view and its signing secret (to show once)."""
    with session_scope() as session:
        endpoint, secret = webhooks.create(session, user.id, url, enabled)
        return webhooks.endpoint_view(endpoint), secret


def set_enabled(user: User, webhook_id: int, enabled: bool) -> dict:
    with session_scope() as session:
        return webhooks.endpoint_view(webhooks.set_enabled(session, user.id, webhook_id, enabled))


def delete(user: User, webhook_id: int) -> None:
    with session_scope() as session:
        webhooks.delete(session, user.id, webhook_id)


def send_test(user: User, webhook_id: int) -> dict:
    """Send a signed ping now and return the delivery's view (status, the receiver's answer)."""
    return deliveries.delivery_view(deliveries.send_test(user.id, webhook_id))


def recent_deliveries(user: User, webhook_id: int | None = None) -> list[dict]:
    """The newest deliveries of one webhook of the user's (None: of all of them, emails too)."""
    with session_scope() as session:
        return [deliveries.delivery_view(row) for row in deliveries.recent(session, user.id, webhook_id)]
