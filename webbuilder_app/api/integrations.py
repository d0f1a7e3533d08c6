"""Webhooks and email settings: where the user hears about builds that complete or fail."""

from fastapi import APIRouter, Depends

from workers.services import settings as email_settings
from workers.services import webhooks
from workers.store.models import User

from .auth import RowId, current_user
from .schemas import (
    DeliveryList,
    Done,
    EmailConfirmation,
    EmailConfirmed,
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
    return {"success": True, "webhooks": webhooks.list_webhooks(user)}


@router.post("/webhooks", status_code=201, response_model=NewWebhook, responses=errors(401, 409, 422))
def create_webhook(body: NewWebhookRequest, user: User = Depends(current_user)) -> dict:
    """Add a webhook. Its signing secret is in this response only; store it then."""
    view, secret = webhooks.create(user, body.url, body.enabled)
    return {"success": True, **view, "secret": secret}


@router.patch("/webhooks/{webhook_id}", response_model=WebhookView, responses=errors(401, 404, 422))
def update_webhook(webhook_id: RowId, body: WebhookUpdate, user: User = Depends(current_user)) -> dict:
    """Enable or disable a webhook."""
    return webhooks.set_enabled(user, webhook_id, body.enabled)


@router.delete("/webhooks/{webhook_id}", response_model=Done, responses=errors(401, 404))
def delete_webhook(webhook_id: RowId, user: User = Depends(current_user)) -> dict:
    """Remove a webhook and its delivery history; nothing more is sent to it."""
    webhooks.delete(user, webhook_id)
    return {"success": True}


@router.post("/webhooks/{webhook_id}/test", response_model=PingSent, responses=errors(401, 404))
def test_webhook(webhook_id: RowId, user: User = Depends(current_user)) -> dict:
    """Send a signed `ping` event now (waits up to 5 s for the receiver) and answer with its status."""
    view = webhooks.send_test(user, webhook_id)
    return {"success": True, "delivered": view["status"] == "delivered", "statusCode": view["responseCode"], "delivery": view}


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryList, responses=errors(401, 404))
def webhook_deliveries(webhook_id: RowId, user: User = Depends(current_user)) -> dict:
    """The webhook's last 20 deliveries with their status, attempts and the receiver's last answer."""
    return {"success": True, "deliveries": webhooks.recent_deliveries(user, webhook_id)}


@router.get("/settings", response_model=NotificationSettings, responses=errors(401))
def get_settings(user: User = Depends(current_user)) -> dict:
    """Your email address for build notifications, whether it is confirmed and whether they are on."""
    return {"success": True, **email_settings.notification_settings(user)}


@router.put("/settings", response_model=NotificationSettings, responses=errors(401, 422, 429, 502))
def put_settings(body: NotificationSettingsRequest, user: User = Depends(current_user)) -> dict:
    """Set the address for emails when a build completes or fails, and turn them on or off. A new
    address is mailed a confirmation link (at most one a minute: 429); no build email goes to it
    before it is confirmed. 502: saved, but the mail server refused the link."""
    return {"success": True, **email_settings.set_notification_settings(user, body.email, body.emailNotifications)}


@router.post("/settings/resend", response_model=NotificationSettings, responses=errors(401, 409, 429, 502))
def resend_confirmation(user: User = Depends(current_user)) -> dict:
    """Mail a new confirmation link to your unconfirmed address (the previous link stops working).
    409: no address, it is confirmed already, or this server sends no emails."""
    return {"success": True, **email_settings.resend_verification(user)}


@router.post("/settings/verify", response_model=EmailConfirmed, responses=errors(404, 410, 422))
def verify_email(body: EmailConfirmation) -> dict:
    """Confirm an address with the code from its confirmation email. Needs no sign-in (the code is
    the proof) and confirms only the address the code was mailed to. 404: used or replaced; 410: expired."""
    return {"success": True, "email": email_settings.confirm_email(body.code)}
