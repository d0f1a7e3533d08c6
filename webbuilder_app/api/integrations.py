"""Webhooks and email settings: where the user hears about builds that complete or fail."""

from fastapi import APIRouter, Depends

from workers import accounts, deliveries, webhooks
from workers.db import session_scope
from workers.models import User

from .auth import RowId, current_user
from .schemas import (
    DeliveryList,
    Done,
    NewWebhook,
    NewWebhookRequest,
    NotificationSettings,
    NotificationSettingsRequest,
    PingSent,
    WebhookList,
    WebhookUpdate,
    WebhookView,
    errors,
)

router = APIRouter(prefix="/api/website-builder/user", tags=["integrations"])


@router.get("/webhooks", response_model=WebhookList, responses=errors(401))
def list_webhooks(user: User = Depends(current_user)) -> dict:
    """Your webhooks (never their secrets)."""
    with session_scope() as session:
        return {"success": True, "webhooks": [webhooks.endpoint_view(row) for row in webhooks.endpoints(session, user.id)]}


@router.post("/webhooks", status_code=201, response_model=NewWebhook, responses=errors(401, 409, 422))
def create_webhook(body: NewWebhookRequest, user: User = Depends(current_user)) -> dict:
    """Add a webhook. Its signing secret is in this response only; store it then."""
    with session_scope() as session:
        endpoint, secret = webhooks.create(session, user.id, body.url, body.enabled)
        return {"success": True, **webhooks.endpoint_view(endpoint), "secret": secret}


@router.patch("/webhooks/{webhook_id}", response_model=WebhookView, responses=errors(401, 404, 422))
def update_webhook(webhook_id: RowId, body: WebhookUpdate, user: User = Depends(current_user)) -> dict:
    """Enable or disable a webhook."""
    with session_scope() as session:
        return webhooks.endpoint_view(webhooks.set_enabled(session, user.id, webhook_id, body.enabled))


@router.delete("/webhooks/{webhook_id}", response_model=Done, responses=errors(401, 404))
def delete_webhook(webhook_id: RowId, user: User = Depends(current_user)) -> dict:
    """Remove a webhook and its delivery history; nothing more is sent to it."""
    with session_scope() as session:
        webhooks.delete(session, user.id, webhook_id)
    return {"success": True}


@router.post("/webhooks/{webhook_id}/test", response_model=PingSent, responses=errors(401, 404))
def test_webhook(webhook_id: RowId, user: User = Depends(current_user)) -> dict:
    """Send a signed `ping` event now (waits up to 5 s for the receiver) and answer with its status."""
    delivery = deliveries.send_test(user.id, webhook_id)
    view = deliveries.delivery_view(delivery)
    return {"success": True, "delivered": view["status"] == "delivered", "statusCode": view["responseCode"], "delivery": view}


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryList, responses=errors(401, 404))
def webhook_deliveries(webhook_id: RowId, user: User = Depends(current_user)) -> dict:
    """The webhook's last 20 deliveries with their status, attempts and the receiver's last answer."""
    with session_scope() as session:
        rows = deliveries.recent(session, user.id, webhook_id)
        return {"success": True, "deliveries": [deliveries.delivery_view(row) for row in rows]}


@router.get("/settings", response_model=NotificationSettings, responses=errors(401))
def get_settings(user: User = Depends(current_user)) -> dict:
    """Your email address for build notifications and whether they are on."""
    return {"success": True, **accounts.notification_settings(user)}


@router.put("/settings", response_model=NotificationSettings, responses=errors(401, 422))
def put_settings(body: NotificationSettingsRequest, user: User = Depends(current_user)) -> dict:
    """Set the address for emails when a build completes or fails, and turn them on or off."""
    with session_scope() as session:
        updated = accounts.set_notification_settings(session, user.id, body.email, body.emailNotifications)
        return {"success": True, **accounts.notification_settings(updated)}
