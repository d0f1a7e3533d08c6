"""The one way out of a sandboxed step's network namespace: an allowlisting HTTP proxy on a Unix socket.

A step that may reach the network (the dependency install; a build, if the operator allows hosts) runs
in a namespace with loopback only. The sandbox binds this proxy's socket in, and socat inside turns it
into a TCP port that npm's `proxy`/`https-proxy` (and the `HTTPS_PROXY` variables) name. The proxy:
- takes `CONNECT host:port` (TLS tunnels, which the client verifies end to end) and plain `GET
  http://host/…` requests, one destination per client connection;
- lets through only host names on its allowlist, at the ports listed (443 and 80 unless a port is given);
- resolves the name itself, refuses loopback, private, link-local and other internal targets
  (`egress.INTERNAL`), and connects to the address it checked;
- answers anything else with 403 and reports each refused destination once to its owner.
It runs in the worker's process, one instance per step, on threads; a step's tunnels die with it.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from workers.net import egress

log = logging.getLogger(__name__)

DEFAULT_PORTS = (443, 80)
HEAD_LIMIT = 16 * 1024
CONNECT_SECONDS = 10.0
HEAD_SECONDS = 30.0
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Destination:
    host: str  # lower case, no trailing dot, IPv6 without brackets
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class Allowlist:
    """Host names (and optional ports) a step may reach. `host` allows ports 443 and 80; `host:port`
    that port only. Addresses are never names on it: the proxy checks every name's addresses itself."""

    def __init__(self, entries: Iterable[str]):
        self._ports: dict[str, set[int]] = {}
        for entry in entries:
            entry = entry.strip()
            if not entry:
                continue
            parsed = urlsplit(entry if "//" in entry else f"//{entry}")
            host = _normal(parsed.hostname or "")
            if not host:
                raise ValueError(f"not a host name: {entry!r}")
            self._ports.setdefault(host, set()).update([parsed.port] if parsed.port else DEFAULT_PORTS)

    def allows(self, destination: Destination) -> bool:
        return destination.port in self._ports.get(destination.host, ())

    @property
    def hosts(self) -> list[str]:
        return sorted(self._ports)

    def __bool__(self) -> bool:
        return bool(self._ports)


class EgressProxy:
    """`with EgressProxy(allowlist, on_refused) as proxy:` serves on `proxy.socket_path` until the
    block ends. `on_refused(destination, reason)` is called once per refused destination."""

    def __init__(self, allowlist: Allowlist, on_refused: Callable[[str, str], None], owner_uid: int | None = None):
        self.allowlist = allowlist
        self._on_refused = on_refused
        self._owner_uid = owner_uid
        self._refused: set[str] = set()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._closed = threading.Event()
        self.connections = 0  # tunnels opened, for the job log

    def __enter__(self) -> "EgressProxy":
        # /run is root's and short: a socket's path must stay under 108 bytes.
        base = "/run" if os.geteuid() == 0 and os.path.isdir("/run") else None
        self.folder = Path(tempfile.mkdtemp(prefix="webbuilder-egress-", dir=base))
        self.socket_path = self.folder / "proxy.sock"
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.socket_path))
        if self._owner_uid is not None:  # the sandbox's user connects; nobody else may
            os.chown(self.socket_path, self._owner_uid, -1)
            os.chmod(self.socket_path, 0o600)
        else:
            os.chmod(self.socket_path, 0o666)
        os.chmod(self.folder, 0o755)
        self._listener.listen(64)
        self._thread = threading.Thread(target=self._accept, name="egress-proxy", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closed.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        self._thread.join(timeout=5)
        with self._lock:
            for open_socket in list(self._sockets):
                _close(open_socket)
        self.socket_path.unlink(missing_ok=True)
        self.folder.rmdir()

    # -- serving ----------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.add(client)
            threading.Thread(target=self._serve, args=(client,), name="egress-tunnel", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        try:
            client.settimeout(HEAD_SECONDS)
            head, rest = _read_head(client)
            if head is None:
                return
            method, destination, forward = _parse(head)
            if destination is None:
                client.sendall(_answer(400, "webbuilder egress proxy: send CONNECT host:port or an absolute http:// URL"))
                return
            reason = self._refusal(destination)
            if reason is None:
                upstream, reason = _connect(destination)
            if upstream is None:
                self._refuse(client, destination, reason)
                return
            with self._lock:  # closed with the proxy, so no tunnel outlives its step
                self._sockets.add(upstream)
                self.connections += 1
            if method == "CONNECT":
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                upstream.sendall(forward)
            if rest:
                upstream.sendall(rest)
            client.settimeout(None)  # a tunnel may idle between requests; the step's deadline bounds it
            upstream.settimeout(None)
            _pipe(client, upstream, self._closed)
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(client)
                self._sockets.discard(upstream)
            _close(client)
            if upstream is not None:
                _close(upstream)

    def _refusal(self, destination: Destination) -> str | None:
        if not self.allowlist.allows(destination):
            return "not on the allowlist"
        return None

    def _refuse(self, client: socket.socket, destination: Destination, reason: str) -> None:
        client.sendall(_answer(403, f"webbuilder egress proxy: {destination} refused: {reason}"))
        with self._lock:
            first = str(destination) not in self._refused
            self._refused.add(str(destination))
        if first:
            self._on_refused(str(destination), reason)


# -- the protocol ---------------------------------------------------------------------------------


def _read_head(client: socket.socket) -> tuple[bytes | None, bytes]:
    """The request head (through the blank line) and whatever followed it in the same reads."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > HEAD_LIMIT:
            client.sendall(_answer(431, "webbuilder egress proxy: request head too large"))
            return None, b""
        chunk = client.recv(4096)
        if not chunk:
            return None, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


def _parse(head: bytes) -> tuple[str, Destination | None, bytes]:
    """(method, destination, what to send upstream) for CONNECT or an absolute-form http request."""
    request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = request_line.split(" ")
    if len(parts) != 3:
        return "", None, b""
    method, target, _version = parts
    if method == "CONNECT":
        parsed = urlsplit(f"//{target}")
        try:
            port = parsed.port
        except ValueError:
            return method, None, b""
        host = _normal(parsed.hostname or "")
        return method, Destination(host, port) if host and port else None, b""
    parsed = urlsplit(target)
    try:
        port = parsed.port or 80
    except ValueError:
        return method, None, b""
    host = _normal(parsed.hostname or "")
    if parsed.scheme != "http" or not host:
        return method, None, b""
    return method, Destination(host, port), head  # servers take the absolute form (RFC 9112 3.2.2)


def _connect(destination: Destination) -> tuple[socket.socket | None, str]:
    """A connection to the first checked address of the destination that answers, or why none."""
    try:
        addresses = egress.public_addresses(destination.host, CONNECT_SECONDS, refuse=egress.INTERNAL)
    except egress.Refused as exc:
        return None, str(exc)
    except egress.Unresolved as exc:
        return None, str(exc)
    for address in addresses:
        try:
            return socket.create_connection((str(address), destination.port), timeout=CONNECT_SECONDS), ""
        except OSError:
            continue
    return None, "could not connect"


def _pipe(a: socket.socket, b: socket.socket, closed: threading.Event) -> None:
    """Copy bytes both ways until both sides have closed (a half-close is passed on). poll, not
    select: a busy worker's descriptors may pass 1024."""
    peers = {a.fileno(): (a, b), b.fileno(): (b, a)}
    waiting = select.poll()
    for fd in peers:
        waiting.register(fd, select.POLLIN)
    open_reads = set(peers)
    while open_reads and not closed.is_set():
        for fd, _event in waiting.poll(1000):
            source, sink = peers[fd]
            data = source.recv(CHUNK)
            if data:
                sink.sendall(data)
                continue
            waiting.unregister(fd)
            open_reads.discard(fd)
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass


def _answer(status: int, text: str) -> bytes:
    reason = {400: "Bad Request", 403: "Forbidden", 431: "Request Header Fields Too Large"}[status]
    body = (text + "\n").encode()
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n").encode() + body


def _normal(host: str) -> str:
    return host.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
