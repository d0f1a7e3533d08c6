"""Webhooks reach only the outside world: a host that is, or resolves to, anything but a public address
is refused when the webhook is added and again at every attempt; an attempt connects to the address it
checked (a second DNS answer is never used); it ends by its deadline however slowly the receiver
answers; its failures do not say which ports are open.

Names resolve through a fake resolver, and the fake network lets no connection leave loopback: one to
the public-looking PUBLIC is routed to a receiver on 127.0.0.1, any other is refused and fails the
test. So nothing here reaches a private range or the internet.
"""

from __future__ import annotations

import errno
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import auth, sign_up
from tests.conftest import free_port
from tests.helpers import make_user
from workers.errors import UserError
from workers.net import egress
from workers.notify import deliveries, webhooks
from workers.store.db import session_scope

PUBLIC = "93.184.216.34"  # looks public; the fake network routes it to a local port, never out
REFUSED = "Webhooks call public addresses only: "


class FakeNetwork:
    """socket.getaddrinfo and socket.create_connection, faked. A name answers `answers[name]`, one list
    of addresses per lookup (the last one repeated); a name in `held` answers once its event is set.
    A connection to loopback goes through, one to (PUBLIC, port) goes to 127.0.0.1:routes[port], and
    any other is refused and recorded in `escaped` (which must stay empty)."""

    def __init__(self, monkeypatch):
        self.answers: dict[str, list[list[str]]] = {}
        self.routes: dict[int, int] = {}
        self.held: dict[str, threading.Event] = {}
        self.lookups: list[str] = []
        self.escaped: list[tuple] = []
        self._getaddrinfo, self._create_connection = socket.getaddrinfo, socket.create_connection
        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)
        monkeypatch.setattr(socket, "create_connection", self.create_connection)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        try:  # an address in any spelling: the real resolver, which asks no one for it
            return self._getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            if flags & socket.AI_NUMERICHOST:
                raise
        self.lookups.append(host)
        if host in self.held:
            self.held[host].wait(30)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        queue = self.answers[host]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return [self._getaddrinfo(address, port, family, type, proto, socket.AI_NUMERICHOST)[0] for address in answer]

    def create_connection(self, address, timeout=None, source_address=None, **kwargs):
        host, port = address[:2]
        first = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0]  # what a name stands for now
        if first == PUBLIC and port in self.routes:
            return self._create_connection(("127.0.0.1", self.routes[port]), timeout, source_address, **kwargs)
        if ip_address(first.partition("%")[0]).is_loopback:
            return self._create_connection((first, port), timeout, source_address, **kwargs)
        self.escaped.append(address)
        raise OSError(errno.ENETUNREACH, "the tests' fake network reaches loopback only")


@pytest.fixture
def network(monkeypatch):
    fake = FakeNetwork(monkeypatch)
    yield fake
    for event in fake.held.values():
        event.set()
    assert fake.escaped == [], "a connection left loopback"


@pytest.fixture
def public_only(env, monkeypatch):
    """The default: webhooks call public addresses only (the `env` fixture allows private ones)."""
    monkeypatch.setenv("WEBBUILDER_WEBHOOK_ALLOW_PRIVATE", "0")


class Listener:
    """A port on 127.0.0.1 that accepts nothing: connections made to it wait in its queue, counted."""

    def __init__(self):
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.setblocking(False)
        self.port = self._socket.getsockname()[1]

    def connections(self) -> int:
        count = 0
        while True:
            try:
                self._socket.accept()[0].close()
            except BlockingIOError:
                return count
            count += 1

    def close(self) -> None:
        self._socket.close()


@pytest.fixture
def listener():
    port = Listener()
    yield port
    port.close()


def add_webhook(user_id: int, url: str) -> int:
    with session_scope() as session:
        return webhooks.create(session, user_id, url)[0].id


def stored_urls(user_id: int) -> list[str]:
    with session_scope() as session:
        return [endpoint.url for endpoint in webhooks.endpoints(session, user_id)]


def ping(url: str) -> webhooks.Response:
    return webhooks.post(url, "whsec_test", "ping", 1, b'{"event":"ping"}')


def test_the_address_rules():
    for address in ("8.8.8.8", "1.1.1.1", PUBLIC, "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"):
        assert egress.is_public(ip_address(address)), address
    for address, kind in (
        ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("::1", "loopback"), ("0.0.0.0", "unspecified"),
        ("::", "unspecified"), ("10.1.2.3", "private"), ("172.31.255.1", "private"), ("192.168.0.10", "private"),
        ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("100.64.0.1", "CGNAT"),
        ("100.127.255.254", "CGNAT"), ("fc00::1", "unique-local"), ("fd12:3456::1", "unique-local"),
        ("224.0.0.251", "multicast"), ("ff02::1", "multicast"), ("192.0.2.1", "documentation"),
        ("198.51.100.7", "documentation"), ("203.0.113.9", "documentation"), ("2001:db8::1", "documentation"),
        ("198.18.0.1", "benchmarking"), ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"),
        ("2001::1", "reserved"), ("100::1", "reserved"), ("::127.0.0.1", "reserved"), ("fec0::1", "site-local"),
        # IPv6 spellings that reach an IPv4 address are judged by it
        ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.1", "private"), ("64:ff9b::a9fe:a9fe", "link-local"),
        ("2002:7f00:1::", "loopback"), ("2002:c0a8:101::1", "private"),
    ):
        assert egress.not_public(ip_address(address)) == kind, address


def test_every_spelling_of_a_non_public_host_is_refused_when_the_webhook_is_added(public_only, network):
    network.answers |= {
        "internal.example.com": [["10.1.2.3"]],
        "metadata.example.com": [["169.254.169.254"]],
        "v6.example.com": [["fd00::5"]],
        "mixed.example.com": [[PUBLIC, "10.0.0.7"]],  # one private answer among public ones is enough
        "cgnat.example.com": [["100.64.3.4"]],
    }
    user = make_user()
    for url, says in (
        ("http://127.0.0.1:6379/", "127.0.0.1 is not a public address (loopback)"),
        ("http://127.1/hook", "127.1 is not a public address (127.0.0.1: loopback)"),
        ("http://2130706433/", "2130706433 is not a public address (127.0.0.1: loopback)"),
        ("http://0x7f.1/", "0x7f.1 is not a public address (127.0.0.1: loopback)"),
        ("http://0x7f000001/", "0x7f000001 is not a public address (127.0.0.1: loopback)"),
        ("http://0.0.0.0:3000/", "0.0.0.0 is not a public address (unspecified)"),
        ("http://0:3000/", "0 is not a public address (0.0.0.0: unspecified)"),
        ("http://[::1]:3000/", "::1 is not a public address (loopback)"),
        ("http://[::]/", ":: is not a public address (unspecified)"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is not a public address (127.0.0.1: loopback)"),
        ("http://[::ffff:7f00:1]/", "::ffff:7f00:1 is not a public address (127.0.0.1: loopback)"),
        ("http://[fe80::1%25eth0]/", "fe80::1%25eth0 is not a public address (fe80::1: link-local)"),
        ("http://localhost:3000/", "localhost is not a public address (loopback)"),
        ("http://LOCALHOST./", "localhost. is not a public address (loopback)"),
        ("http://site.localhost:3000/", "site.localhost is not a public address (loopback)"),
        ("http://10.0.0.1/", "10.0.0.1 is not a public address (private)"),
        ("http://192.168.1.1/", "192.168.1.1 is not a public address (private)"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is not a public address (link-local)"),
        ("http://100.64.0.1/", "100.64.0.1 is not a public address (CGNAT)"),
        ("http://[fd00::1]/", "fd00::1 is not a public address (unique-local)"),
        ("http://224.0.0.1/", "224.0.0.1 is not a public address (multicast)"),
        ("http://[ff02::1]/", "ff02::1 is not a public address (multicast)"),
        ("http://192.0.2.1/", "192.0.2.1 is not a public address (documentation)"),
        ("http://255.255.255.255/", "255.255.255.255 is not a public address (reserved)"),
        ("http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1 is not a public address (127.0.0.1: loopback)"),
        ("https://internal.example.com/hook", "internal.example.com resolves to 10.1.2.3, which is not a public address (private)"),
        ("https://metadata.example.com/", "metadata.example.com resolves to 169.254.169.254, which is not a public address (link-local)"),
        ("https://v6.example.com/", "v6.example.com resolves to fd00::5, which is not a public address (unique-local)"),
        ("https://mixed.example.com/", "mixed.example.com resolves to 10.0.0.7, which is not a public address (private)"),
        ("https://cgnat.example.com/", "cgnat.example.com resolves to 100.64.3.4, which is not a public address (CGNAT)"),
    ):
        with pytest.raises(UserError) as refused:
            add_webhook(user, url)
        assert (refused.value.status, str(refused.value)) == (422, f"{REFUSED}{says}."), url
    with pytest.raises(UserError, match="^That is not a valid URL.$"):  # octal: unreadable to the HTTP client
        add_webhook(user, "http://0177.0.0.1/")
    assert stored_urls(user) == []
    # Addresses are never sent to DNS, whatever their spelling; "localhost" is refused by its name.
    assert sorted(network.lookups) == sorted(network.answers)


def test_public_receivers_are_added_without_being_called(public_only, network):
    network.answers |= {"hooks.example.com": [[PUBLIC, "2606:4700:4700::1111"]]}
    user = make_user()
    for url in ("https://hooks.example.com/webbuilder", f"http://{PUBLIC}:8080/", "https://[2606:4700:4700::1111]/",
                "https://not-yet-deployed.example.com/"):  # a name that does not resolve now is checked at each attempt
        add_webhook(user, url)
    assert len(stored_urls(user)) == 4  # and the fake network saw no connection (the fixture checks)


def test_the_api_answers_422_for_a_loopback_receiver(public_only, network, listener):
    from webbuilder_app.api.app import create_api

    with TestClient(create_api()) as api:
        me = auth(sign_up(api, "mallory"))
        for host in ("127.0.0.1", "127.1", "[::ffff:127.0.0.1]", "localhost"):
            answer = api.post("/api/website-builder/user/webhooks", headers=me, json={"url": f"http://{host}:{listener.port}/"})
            assert answer.status_code == 422, answer.text
            assert answer.json()["message"].startswith(REFUSED), answer.json()
        assert api.get("/api/website-builder/user/webhooks", headers=me).json()["webhooks"] == []
    assert listener.connections() == 0


def test_an_attempt_connects_to_the_address_it_checked_not_to_a_second_answer(public_only, network, listener, receiver):
    """DNS rebinding: the name answers a public address for the check, then 127.0.0.1 to any second
    lookup. The request goes to the checked address, with the URL's name as its Host."""
    stand_in = receiver(200)  # plays the public receiver at PUBLIC
    network.routes[listener.port] = urlsplit(stand_in.url).port
    network.answers["rebind.example.com"] = [[PUBLIC], ["127.0.0.1"]]

    answer = ping(f"http://rebind.example.com:{listener.port}/hooks")

    assert (answer.status_code, answer.error) == (200, None)
    [request] = stand_in.received
    assert request.headers["Host"] == f"rebind.example.com:{listener.port}"
    assert network.lookups == ["rebind.example.com"]  # looked up once
    assert listener.connections() == 0


def test_every_attempt_checks_again(env, network, listener, receiver, monkeypatch):
    """A webhook added while its host was allowed is refused at send time once it is not: its name now
    resolves to loopback, or the operator stopped allowing private receivers."""
    hook = receiver(200)
    user = make_user()
    network.answers["moved.example.com"] = [[PUBLIC]]
    moved = add_webhook(user, f"http://moved.example.com:{listener.port}/")
    local = add_webhook(user, hook.url)  # allowed: the `env` fixture allows private receivers, as an operator may
    assert deliveries.send_test(user, local).status == "delivered"

    monkeypatch.setenv("WEBBUILDER_WEBHOOK_ALLOW_PRIVATE", "0")
    network.answers["moved.example.com"] = [["127.0.0.1"]]
    for endpoint_id, says in (
        (moved, "moved.example.com resolves to 127.0.0.1, which is not a public address (loopback)"),
        (local, "127.0.0.1 is not a public address (loopback)"),
    ):
        sent = deliveries.send_test(user, endpoint_id)
        assert (sent.status, sent.last_status_code, sent.last_error) == ("failed", None, f"refused: {says}; webhooks call public addresses only")
    assert len(hook.received) == 1
    assert listener.connections() == 0


class Trickler:
    """A receiver on 127.0.0.1 that answers a status line, then one header byte every 0.2 s until
    the attempt hangs up (or `close`)."""

    PACE_SECONDS = 0.2

    def __init__(self):
        self.bytes_sent = 0
        self._closed = threading.Event()
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self._socket.accept()
        connection.recv(65536)
        try:
            connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not self._closed.wait(self.PACE_SECONDS):  # the receiver's pace
                connection.sendall(b"z")
                self.bytes_sent += 1
        except OSError:
            pass
        connection.close()

    def close(self) -> None:
        self._closed.set()
        self._socket.close()


def ping_timed(url: str, give_up_after: float) -> tuple[webhooks.Response, float]:
    """`ping(url)` and the seconds it took; fails if it has not returned after `give_up_after`."""
    outcome: list[webhooks.Response] = []
    started = time.monotonic()
    attempt = threading.Thread(target=lambda: outcome.append(ping(url)), daemon=True)
    attempt.start()
    attempt.join(give_up_after)
    assert outcome, f"the attempt was still running after {give_up_after} s"
    return outcome[0], time.monotonic() - started


def test_an_attempt_ends_at_its_deadline_however_slowly_the_receiver_answers(env, network, monkeypatch):
    monkeypatch.setattr(webhooks, "ATTEMPT_SECONDS", 1.5)
    trickler = Trickler()
    answer, took = ping_timed(trickler.url, give_up_after=5)
    trickler.close()
    assert (answer.status_code, answer.error) == (None, webhooks.COULD_NOT_CONNECT)
    assert 1.4 < took < 2.5, took
    assert trickler.bytes_sent >= 5  # each read got bytes well within any per-read timeout

    network.held["slow-dns.example.com"] = threading.Event()  # a lookup that does not come back
    network.answers["slow-dns.example.com"] = [["127.0.0.1"]]
    answer, took = ping_timed("http://slow-dns.example.com/", give_up_after=5)
    assert answer.error == webhooks.COULD_NOT_CONNECT and took < 2.5, took


def test_failed_connections_all_read_the_same(env, network, listener, monkeypatch):
    """Closed port, a port that never answers, one that hangs up, one that speaks no HTTP: one message,
    so a user cannot tell open ports from closed or filtered ones."""
    monkeypatch.setattr(webhooks, "ATTEMPT_SECONDS", 1.0)
    hangs_up, speaks_nonsense = socket.create_server(("127.0.0.1", 0)), socket.create_server(("127.0.0.1", 0))

    def serve(server: socket.socket, reply: bytes) -> None:
        with server:
            connection, _ = server.accept()
            connection.sendall(reply)
            connection.close()

    threading.Thread(target=serve, args=(hangs_up, b""), daemon=True).start()
    threading.Thread(target=serve, args=(speaks_nonsense, b"SSH-2.0-OpenSSH_9.2\r\n"), daemon=True).start()
    errors = {
        port: ping(f"http://127.0.0.1:{port}/").error
        for port in (free_port(), listener.port, hangs_up.getsockname()[1], speaks_nonsense.getsockname()[1])
    }
    assert set(errors.values()) == {"could not connect (or no answer within 10 s)"}, errors


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for hooks.example.com, trusted by the webhook client (SSL_CERT_FILE)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=hooks.example.com",
                    "-addext", "subjectAltName=DNS:hooks.example.com"], check=True, capture_output=True)
    return cert, key


def test_https_goes_to_the_checked_address_under_the_urls_name(public_only, network, certificate, monkeypatch):
    cert, key = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    names_asked: list[str | None] = []
    hosts_seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hosts_seen.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args):
            pass

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    tls.sni_callback = lambda _socket, name, _context: names_asked.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    network.routes[port] = port  # PUBLIC:port is this server
    network.answers |= {"hooks.example.com": [[PUBLIC]], "other.example.com": [[PUBLIC]]}
    try:
        assert ping(f"https://hooks.example.com:{port}/in").status_code == 204
        # The same server under a name its certificate does not carry: the check is against the URL's name.
        assert ping(f"https://other.example.com:{port}/in").error == webhooks.COULD_NOT_CONNECT
    finally:
        server.shutdown()
        server.server_close()
    assert names_asked == ["hooks.example.com", "other.example.com"]
    assert hosts_seen == [f"hooks.example.com:{port}"]
