"""An SMTP server for the tests (aiosmtpd in a thread) keeping every message it receives, and the
reading of a confirmation email the way its recipient would: follow the link it holds."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

from tests.conftest import free_port, wait_for


@dataclass
class Mailbox:
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, _server, _session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def smtp_env(self) -> dict[str, str]:
        """The settings that make the app send its emails here."""
        return {"WEBBUILDER_SMTP_HOST": "127.0.0.1", "WEBBUILDER_SMTP_PORT": str(self.port),
                "WEBBUILDER_SMTP_FROM": "builds@webbuilder.test"}

    def wait_for(self, count: int, timeout: float = 15) -> list[EmailMessage]:
        wait_for(lambda: len(self.messages) >= count, timeout, what=f"{count} emails")
        return self.messages[:count]


def serve_mailbox() -> Iterator[Mailbox]:
    """The body of a fixture: a running SMTP server on a free port, stopped afterwards."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox(port=free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    yield mailbox
    controller.stop()


def confirmation_link(message: EmailMessage) -> str:
    """The confirmation page's address in a confirmation email."""
    [link] = re.findall(r"https?://\S+/verify-email\?code=\S+", message.get_content())
    return link


def confirmation_code(message: EmailMessage) -> str:
    [code] = parse_qs(urlsplit(confirmation_link(message)).query)["code"]
    return code
