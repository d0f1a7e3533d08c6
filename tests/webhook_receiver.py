"""A webhook receiver for the tests: a local HTTP server in a thread that records every request and
answers with the status codes it is given. Signatures are checked with the README's own snippet, so
the documented way to verify a webhook is what the tests prove works."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.conftest import ROOT, wait_for


@dataclass(frozen=True)
class Received:
    headers: Message  # case-insensitive, like a web framework's request headers
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """Answers the i-th request with `answers[i]` (the last one from then on)."""

    def __init__(self, answers: tuple[int, ...] = (200,)):
        self.answers = answers
        self.received: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(Received(self.headers, body))
                status = receiver.answers[min(len(receiver.received), len(receiver.answers)) - 1]
                self.send_response(status)
                if 300 <= status < 400:  # a redirect elsewhere, which must not be followed
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/webbuilder"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        return wait_for(lambda: len(self.received) >= count and self.received, timeout, what=f"{count} webhook request(s)")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def receivers() -> Iterator[Callable[..., Receiver]]:
    """The body of a fixture: make receivers, all closed afterwards."""
    started: list[Receiver] = []

    def make(*answers: int) -> Receiver:
        started.append(Receiver(answers or (200,)))
        return started[-1]

    yield make
    for receiver in started:
        receiver.close()


def readme_verify() -> Callable[..., bool]:
    """`verify(secret, headers, body)` exactly as README.md's "Verifying a webhook signature" shows it."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Verifying a webhook signature", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    return namespace["verify"]
