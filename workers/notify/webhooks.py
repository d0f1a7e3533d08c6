"""Webhook endpoints: a user's URLs that are told when their builds complete or fail.

Each endpoint has a secret made by the server. Every request is signed with it: the receiver
recomputes `HMAC-SHA256(secret, timestamp + "." + body)` and compares it with the
`X-Webbuilder-Signature` header, and rejects old timestamps, so a captured request cannot be replayed
later (README, "Verifying a webhook signature"). Which events go out, and their retries, are decided in
workers/deliveries.py; this module owns the endpoints and one HTTP POST, which reaches public
addresses only (workers/egress.py) unless the operator allows private ones.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx
from sqlmodel import Session, select

from workers.config import settings
from workers.errors import UserError
from workers.net import egress
from workers.store.models import WebhookDelivery, WebhookEndpoint
from workers.text import has_control_characters

log = logging.getLogger(__name__)

MAX_ENDPOINTS_PER_USER = 10
MAX_URL_LENGTH = 2000
# One attempt, from the name lookup to the answer's status line, however slowly the receiver answers.
ATTEMPT_SECONDS = 10.0
COULD_NOT_CONNECT = f"could not connect (or no answer within {ATTEMPT_SECONDS:.0f} s)"
USER_AGENT = "webbuilder-webhooks/1"


def check_url(url: str) -> str:
    """The URL, trimmed, if it is an absolute http(s) URL of a public receiver; another scheme (file:,
    javascript:, ftp:) or a host that is or resolves to a loopback, private, link-local … address
    (workers/egress.py) is refused before anything is stored. A name that does not resolve now is
    accepted: every attempt checks again before it connects."""
    url = (url or "").strip()
    if not url:
        raise UserError("Give the URL the webhook should call, e.g. https://example.com/hooks/webbuilder.", 422)
    if len(url) > MAX_URL_LENGTH:
        raise UserError(f"The URL is longer than {MAX_URL_LENGTH} characters.", 422)
    if has_control_characters(url, space_too=True):
        raise UserError("The URL may not contain spaces or control characters.", 422)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise UserError("That is not a valid URL.", 422) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise UserError("Only http:// and https:// URLs can receive webhooks.", 422)
    if not parts.hostname:
        raise UserError("The URL has no host name.", 422)
    try:
        target = httpx.URL(url)  # as post() will read it
    except httpx.InvalidURL:
        raise UserError("That is not a valid URL.", 422) from None
    if not settings().webhook_allow_private:
        try:
            egress.public_addresses(_host(target), ATTEMPT_SECONDS)
        except egress.Refused as refused:
            raise UserError(f"Webhooks call public addresses only: {refused}.", 422) from None
        except egress.Unresolved:
            pass
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
        raise UserError("Webhook not found.", 404)
    return endpoint


def create(session: Session, user_id: int, url: str, enabled: bool = True) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (returned here; shown to the user once)."""
    url = check_url(url)
    if len(endpoints(session, user_id)) >= MAX_ENDPOINTS_PER_USER:
        raise UserError(f"You have {MAX_ENDPOINTS_PER_USER} webhooks already; remove one first.", 409)
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
    """POST a signed event once. The host is looked up once and, unless WEBBUILDER_WEBHOOK_ALLOW_PRIVATE,
    refused if any address is not public; the connection then goes to exactly those addresses (no
    second lookup that could answer otherwise), with the URL's name in the Host header and for TLS
    (SNI and the certificate check). The whole attempt, lookup to status line, ends within
    ATTEMPT_SECONDS however slowly the receiver trickles bytes. Redirects are not followed (the signed
    request was meant for this URL); any answer but 2xx is a failed attempt. Why a connection failed is
    logged, not shown: "refused" against "timed out" would map a network's open ports."""
    deadline = time.monotonic() + ATTEMPT_SECONDS
    try:
        target = httpx.URL(url)
        addresses = (egress.resolve if settings().webhook_allow_private else egress.public_addresses)(_host(target), ATTEMPT_SECONDS)
    except egress.Refused as refused:
        return Response(None, f"refused: {refused}; webhooks call public addresses only")
    except (egress.Unresolved, httpx.InvalidURL) as exc:
        log.info("webhook delivery %s to %s: %s", delivery_id, url, exc)
        return Response(None, COULD_NOT_CONNECT)
    timestamp = str(int(time.time()))
    headers = {
        "Host": target.netloc.decode("ascii"),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Webbuilder-Event": event,
        "X-Webbuilder-Delivery": str(delivery_id),
        "X-Webbuilder-Timestamp": timestamp,
        "X-Webbuilder-Signature": signature(secret, timestamp, body),
    }
    request_url = httpcore.URL(scheme=target.raw_scheme, host=target.raw_host, port=target.port, target=target.raw_path)
    pinned = _PinnedBackend(addresses, deadline)
    tls = httpx.create_ssl_context() if target.scheme == "https" else None  # honours SSL_CERT_FILE; ~30 ms to make
    try:
        with httpcore.ConnectionPool(ssl_context=tls, network_backend=pinned, retries=0) as pool:
            # Closed unread: only the status matters, and a receiver's body could be huge.
            with pool.stream("POST", request_url, headers=headers, content=body) as answer:
                status = answer.status
                redirect = 300 <= status < 400 and any(name.lower() == b"location" for name, _ in answer.headers)
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
        log.info("webhook delivery %s to %s: %r", delivery_id, url, exc)
        return Response(None, COULD_NOT_CONNECT)
    if 200 <= status < 300:
        return Response(status, None)
    return Response(status, f"answered {status}" + (" (redirects are not followed)" if redirect else ""))


def _host(target: httpx.URL) -> str:
    """The name to look up: IDNA-encoded, an IPv6 address without its brackets."""
    return target.raw_host.decode("ascii")


def _time_left(deadline: float, timeout: float | None, error: type[Exception]) -> float:
    """Seconds a network step may take: its own timeout, cut to what is left of the attempt."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise error(f"the attempt's {ATTEMPT_SECONDS:.0f} s are over")
    return left if timeout is None else min(timeout, left)


class _PinnedBackend(httpcore.SyncBackend):
    """httpcore's network, connecting to the checked addresses (in turn, until one answers) whatever
    host it is asked for, with every step cut to the attempt's deadline."""

    def __init__(self, addresses: list[egress.IPAddress], deadline: float):
        self._addresses, self._deadline = addresses, deadline

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None) -> httpcore.NetworkStream:
        for address in self._addresses[:-1]:
            try:
                return self._connect(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue  # the next address may answer
        return self._connect(self._addresses[-1], port, timeout, local_address, socket_options)

    def _connect(self, address: egress.IPAddress, port, timeout, local_address, socket_options) -> httpcore.NetworkStream:
        left = _time_left(self._deadline, timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(super().connect_tcp(str(address), port, left, local_address, socket_options), self._deadline)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the attempt's deadline, so a
    receiver that sends a byte now and then cannot hold the attempt open."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float):
        self._stream, self._deadline = stream, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(self._deadline, timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(self._deadline, timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:
        left = _time_left(self._deadline, timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, left), self._deadline)

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)
