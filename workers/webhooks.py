"""Webhook endpoints: a user's URLs that are told when their builds complete or fail.

Each endpoint has a secret made by the server. Every request is signed with it: the receiver
recomputes `HMAC-SHA256(secret, timestamp + "." + body)` and compares it with the
`X-Webbuilder-Signature` header, and rejects old timestamps, so a captured request cannot be replayed
later (README, "Verifying a webhook signature"). Which events go out, and their retries, are decided in
workers/deliveries.py; this module owns the endpoints and one HTTP POST.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlmodel import Session, select

from workers.models import WebhookDelivery, WebhookEndpoint

MAX_ENDPOINTS_PER_USER = 10
MAX_URL_LENGTH = 2000
TIMEOUT_SECONDS = 5.0
USER_AGENT = "webbuilder-webhooks/1"


class WebhookError(ValueError):
    """A user-facing reason; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


def check_url(url: str) -> str:
    """The URL, trimmed, if it is an absolute http(s) URL; a receiver on another scheme (file:,
    javascript:, ftp:) is refused before anything is stored."""
    url = (url or "").strip()
    if not url:
        raise WebhookError("Give the URL the webhook should call, e.g. https://example.com/hooks/webbuilder.")
    if len(url) > MAX_URL_LENGTH:
        raise WebhookError(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ord(char) <= 32 or ord(char) == 127 for char in url):
        raise WebhookError("The URL may not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise WebhookError("That is not a valid URL.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise WebhookError("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise WebhookError("The URL has no host name.")
    return url


def endpoint_view(endpoint: WebhookEndpoint) -> dict:
    """What the user sees of an endpoint; the secret only appears in `create`'s answer."""
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "enabled": endpoint.enabled,
        "createdAt": endpoint.created_at.isoformat(),
    }


def endpoints(session: Session, user_id: int) -> list[WebhookEndpoint]:
    return list(
        session.exec(select(WebhookEndpoint).where(WebhookEndpoint.user_id == user_id).order_by(WebhookEndpoint.id)).all()
    )


def owned_endpoint(session: Session, user_id: int, endpoint_id: int) -> WebhookEndpoint:
    """Another user's endpoint is 'not found', never 'forbidden'."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.user_id != user_id:
        raise WebhookError("Webhook not found.", 404)
    return endpoint


def create(session: Session, user_id: int, url: str, enabled: bool = True) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (returned here; shown to the user once)."""
    url = check_url(url)
    if len(endpoints(session, user_id)) >= MAX_ENDPOINTS_PER_USER:
        raise WebhookError(f"You have {MAX_ENDPOINTS_PER_USER} webhooks already; remove one first.", 409)
    endpoint = WebhookEndpoint(user_id=user_id, url=url, secret=f"whsec_{secrets.token_hex(24)}", enabled=enabled)
    session.add(endpoint)
    session.flush()
    return endpoint, endpoint.secret


def set_enabled(session: Session, user_id: int, endpoint_id: int, enabled: bool) -> WebhookEndpoint:
    endpoint = owned_endpoint(session, user_id, endpoint_id)
    endpoint.enabled = enabled
    return endpoint


def delete(session: Session, user_id: int, endpoint_id: int) -> None:
    """Remove the endpoint with its delivery history: nothing more is sent to it."""
    endpoint = owned_endpoint(session, user_id, endpoint_id)
    for delivery in session.exec(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)).all():
        session.delete(delivery)
    session.flush()  # the deliveries go first: they refer to the endpoint
    session.delete(endpoint)


# --- one request -----------------------------------------------------------------------------------

def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Webbuilder-Signature value: the timestamp is signed with the body, so it cannot be
    swapped for a fresh one."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True)
class Response:
    status_code: int | None
    error: str | None  # None when the receiver answered 2xx


def post(url: str, secret: str, event: str, delivery_id: int, body: bytes) -> Response:
    """POST a signed event once. Redirects are not followed (the signed request was meant for this
    URL); any answer but 2xx, a timeout or a refused connection is a failed attempt."""
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Webbuilder-Event": event,
        "X-Webbuilder-Delivery": str(delivery_id),
        "X-Webbuilder-Timestamp": timestamp,
        "X-Webbuilder-Signature": signature(secret, timestamp, body),
    }
    try:
        # Streamed and closed unread: only the status matters, and a receiver's body could be huge.
        with httpx.stream("POST", url, content=body, headers=headers, timeout=TIMEOUT_SECONDS, follow_redirects=False) as answer:
            status, redirect = answer.status_code, answer.is_redirect
    except httpx.TimeoutException:
        return Response(None, f"no answer within {TIMEOUT_SECONDS:.0f} s")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return Response(None, f"could not connect: {str(exc) or type(exc).__name__}"[:500])
    if 200 <= status < 300:
        return Response(status, None)
    return Response(status, f"answered {status}" + (" (redirects are not followed)" if redirect else ""))
