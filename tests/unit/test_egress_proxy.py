"""workers.build.egress_proxy, spoken to as the tools in a sandbox would: raw CONNECT and absolute-form
requests on its Unix socket, and npm through the sandbox's bridge. A listener on 127.0.0.1 stands for
a service of the build host's; it must see zero connections."""

from __future__ import annotations

import socket
import ssl
import threading
import time
import uuid

import pytest

from workers.build import sandbox
from workers.build.egress_proxy import Allowlist, EgressProxy
from workers.build.runner import run
from workers.net import egress

REGISTRY = "registry.npmjs.org"


class Listener:
    """A TCP service on the host's loopback that counts who connects."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self.server.close()


@pytest.fixture
def listener():
    found = Listener()
    yield found
    found.close()


@pytest.fixture
def proxy():
    refused: list[tuple[str, str]] = []
    with EgressProxy(Allowlist([REGISTRY, "localhost", "evil.example"]), lambda d, r: refused.append((d, r))) as running:
        running.refused = refused
        yield running


def ask(proxy: EgressProxy, request: str) -> tuple[str, socket.socket]:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(20)
    client.connect(str(proxy.socket_path))
    client.sendall(request.encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = client.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer.decode("latin-1"), client


def test_connect_to_the_hosts_loopback_is_refused_and_reported_once(proxy, listener):
    for _ in range(3):
        answer, client = ask(proxy, f"CONNECT 127.0.0.1:{listener.port} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        client.close()
        assert answer.startswith("HTTP/1.1 403 Forbidden"), answer
    assert proxy.refused == [(f"127.0.0.1:{listener.port}", "not on the allowlist")]
    assert listener.accepted == 0


@pytest.mark.parametrize("target", ["localhost", "evil.example", "[::ffff:127.0.0.1]"])
def test_an_allowed_name_that_is_internal_is_refused(proxy, listener, monkeypatch, target):
    """Allowed by name is not enough: the address it resolves to must not be the host's own."""
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        if host == "evil.example":
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(egress.socket, "getaddrinfo", resolver)
    proxy.allowlist = Allowlist([target])
    answer, client = ask(proxy, f"CONNECT {target}:{listener.port} HTTP/1.1\r\n\r\n")
    client.close()
    assert answer.startswith("HTTP/1.1 403"), answer
    assert "refused" in answer
    assert listener.accepted == 0


def test_plain_http_to_an_unlisted_host_is_refused(proxy, listener):
    answer, client = ask(proxy, f"GET http://127.0.0.1:{listener.port}/x.tgz HTTP/1.1\r\nHost: x\r\n\r\n")
    client.close()
    assert answer.startswith("HTTP/1.1 403")
    assert listener.accepted == 0


def test_anything_but_a_proxy_request_is_a_bad_request(proxy):
    answer, client = ask(proxy, "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
    client.close()
    assert answer.startswith("HTTP/1.1 400")


def test_a_tunnel_to_the_registry_carries_tls_end_to_end(proxy):
    answer, client = ask(proxy, f"CONNECT {REGISTRY}:443 HTTP/1.1\r\nHost: {REGISTRY}:443\r\n\r\n")
    assert answer.startswith("HTTP/1.1 200"), answer
    with ssl.create_default_context().wrap_socket(client, server_hostname=REGISTRY) as tls:
        tls.sendall(f"GET /react/latest HTTP/1.1\r\nHost: {REGISTRY}\r\nConnection: close\r\n\r\n".encode())
        reply = tls.recv(4096).decode("latin-1")
    assert reply.startswith("HTTP/1.1 200"), reply
    assert proxy.connections == 1


def test_the_port_must_be_listed_too(proxy):
    answer, client = ask(proxy, f"CONNECT {REGISTRY}:22 HTTP/1.1\r\n\r\n")
    client.close()
    assert answer.startswith("HTTP/1.1 403")


def test_npm_in_the_sandbox_reaches_the_registry_only_through_the_bridge(tmp_path, listener):
    """From inside bubblewrap: npm through the bridge answers; a direct connection to the host's
    listener, and one through the proxy, get nowhere."""
    workdir = tmp_path / "project"
    workdir.mkdir()
    sandbox.hand_over(workdir)
    refused = []
    owner = sandbox.SANDBOX_UID if sandbox.host().drops_privileges else None
    script = (
        f"npm view react@19 version --registry https://{REGISTRY}/ | tail -n 1; "
        f"node -e \"require('net').connect({listener.port}, '127.0.0.1').on('error', e => console.log('direct:', e.code))\"; "
        f"npm view x --registry http://127.0.0.1:{listener.port}/ 2>&1 | grep -o 'E403' | head -n 1"
    )
    env = {"PATH": sandbox.BUILD_PATH, "HOME": str(workdir), "npm_config_cache": str(workdir / ".npm"),
           "npm_config_proxy": sandbox.BRIDGE_URL, "npm_config_https_proxy": sandbox.BRIDGE_URL,
           "npm_config_update_notifier": "false"}
    lines: list[str] = []
    with EgressProxy(Allowlist([REGISTRY]), lambda d, r: refused.append(d), owner) as running:
        limits = sandbox.Limits(1536 << 20, 256, 1 << 30, 64 << 20)
        with sandbox.confine(["/bin/sh", "-c", script], workdir, env, [sandbox.Mount(workdir)], running.socket_path,
                             f"test-{uuid.uuid4().hex[:8]}", limits) as confined:
            result = run(confined.argv, workdir, confined.env, lines.append, time.monotonic() + 120, lambda: None, confined.guard)
    assert result.ok, lines
    assert lines[0].startswith("react@19."), lines
    assert "direct: ECONNREFUSED" in lines, "the sandbox's 127.0.0.1 is its own"
    assert "E403" in lines, lines
    assert refused == [f"127.0.0.1:{listener.port}"]
    assert listener.accepted == 0
