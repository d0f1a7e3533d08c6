"""Hostile and broken uploads through the HTTP API: each is refused with its status code and a JSON
message a person can act on, and leaves nothing behind: no website or job row, nothing in the data
dir's staging or jobs folders, nothing next to them."""

from __future__ import annotations

import functools
import io
import json
import os
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from workers.config import settings
from workers.store.db import session_scope
from workers.store.models import BuildJob, Website

pytestmark = pytest.mark.integration
MIB = 1024 * 1024
UPLOAD = "/api/website-builder/upload"
PROJECT = [("package.json", json.dumps({"name": "site", "scripts": {"build": "vite build"}})), ("index.html", "<h1>hi</h1>")]


def zip_bytes(entries, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries:
            if isinstance(name, zipfile.ZipInfo) or name:
                archive.writestr(name, data)
    return buffer.getvalue()


def special(name: str, file_type: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: the mode bits in external_attr are meaningful
    info.external_attr = (file_type | 0o777) << 16
    return info


def with_entry_name(name: str) -> bytes:
    """zipfile refuses to write some names (NUL); write a placeholder of equal length and patch it."""
    placeholder = "N" * len(name.encode())
    data = zip_bytes([*PROJECT, (f"src/{placeholder}", "pwned")])
    return data.replace(f"src/{placeholder}".encode(), f"src/{name}".encode())


def deflated_zeros(size: int, chunk: int = 64 * MIB) -> bytes:
    """Raw deflate of `size` zero bytes, compressing only one chunk: after a full flush the compressor
    starts afresh, so every further chunk compresses to the same bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * (size // chunk) + compressor.flush()


@functools.cache
def zip_bomb(entries: int = 3, entry_size: int = 1024 * MIB) -> bytes:
    """A real bomb: 3 GiB of zeros in 3 MB, every CRC right. Written by hand because zipfile would
    compress all 3 GiB (half a minute) and would want zip64 for it."""
    data = deflated_zeros(entry_size)
    crc = 0
    for _ in range(entry_size // (64 * MIB)):
        crc = zlib.crc32(bytes(64 * MIB), crc)
    out, central = io.BytesIO(), b""
    for index in range(entries):
        name, offset = f"zeros{index}.bin".encode(), out.tell()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), entry_size, len(name), 0) + name + data)
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(data), entry_size, len(name), 0, 0, 0, 0, 0, offset) + name
    start = out.tell()
    out.write(central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, entries, entries, len(central), start, 0))
    return out.getvalue()


def tar_with_hardlink() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        page = b"<h1>hi</h1>"
        info = tarfile.TarInfo("index.html")
        info.size = len(page)
        archive.addfile(info, io.BytesIO(page))
        link = tarfile.TarInfo("passwd")
        link.type, link.linkname = tarfile.LNKTYPE, "/etc/passwd"
        archive.addfile(link)
    return buffer.getvalue()


@dataclass(frozen=True)
class Refusal:
    id: str
    files: Callable[[], list[tuple[str, bytes]]]  # (filename, content) parts of the 'files' field
    status: int
    says: str


def one_zip(content: Callable[[], bytes], filename: str = "site.zip"):
    return lambda: [(filename, content())]


REFUSALS = [
    Refusal("not-a-zip", one_zip(lambda: b"just some text, not an archive"), 415, "not a zip archive"),
    Refusal("tar-named-zip", one_zip(tar_with_hardlink), 415, "not a zip archive"),
    Refusal("tar-with-hardlink", one_zip(tar_with_hardlink, "site.tar"), 415, "Only .zip archives are accepted"),
    Refusal("empty-zip", one_zip(lambda: zip_bytes([])), 400, "the archive is empty"),
    Refusal("dot-dot", one_zip(lambda: zip_bytes([*PROJECT, ("../../evil.txt", "pwned")])), 400, "'..' component"),
    Refusal("absolute", one_zip(lambda: zip_bytes([*PROJECT, ("/tmp/evil.txt", "pwned")])), 400, "absolute path"),
    Refusal("backslash", one_zip(lambda: zip_bytes([*PROJECT, ("..\\..\\evil.txt", "pwned")])), 400, "backslash"),
    Refusal("drive-letter", one_zip(lambda: zip_bytes([*PROJECT, ("C:/evil.txt", "pwned")])), 400, "drive letter"),
    Refusal("nul", one_zip(lambda: with_entry_name("a\x00b.txt")), 400, "control character"),
    Refusal("control", one_zip(lambda: zip_bytes([*PROJECT, ("src/\x1b[31mred.txt", "x")])), 400, "control character"),
    Refusal("symlink", one_zip(lambda: zip_bytes([*PROJECT, (special("passwd", stat.S_IFLNK), "/etc/passwd")])), 400, "a symbolic link"),
    Refusal("device", one_zip(lambda: zip_bytes([*PROJECT, (special("tty", stat.S_IFCHR), "")])), 400, "a character device"),
    Refusal("fifo", one_zip(lambda: zip_bytes([*PROJECT, (special("pipe", stat.S_IFIFO), "")])), 400, "a FIFO"),
    Refusal("zip-bomb-3-gib", one_zip(zip_bomb), 413, "the archive unpacks to 3,072.0 MB, more than the 1,024.0 MB limit"),
    Refusal("zip-bomb-ratio", one_zip(lambda: zip_bomb(1, 128 * MIB)), 413, "'zeros0.bin' looks like a zip bomb"),
    Refusal("too-many-entries", one_zip(lambda: zip_bytes([*PROJECT, *((f"f/{i}.txt", "") for i in range(10_000))], zipfile.ZIP_STORED)),
            413, "more than the 10,000 allowed"),
    Refusal("over-upload-limit", one_zip(lambda: zip_bytes([*PROJECT, ("noise.bin", os.urandom(5 * MIB))], zipfile.ZIP_STORED)),
            413, "larger than the 4 MB limit"),
    Refusal("no-project", one_zip(lambda: zip_bytes([("README.md", "# nothing to build")])), 422, "no package.json or index.html"),
    Refusal("invalid-package-json", one_zip(lambda: zip_bytes([("package.json", "{ not json"), ("index.html", "x")])), 422, "package.json"),
    Refusal("folder-with-dot-dot", lambda: [("site/package.json", b"{}"), ("site/../../evil.txt", b"pwned")], 400, "'..' component"),
    Refusal("folder-over-upload-limit", lambda: [("site/index.html", b"x"), ("site/big.bin", os.urandom(5 * MIB))], 413, "4 MB"),
]


@pytest.fixture
def client(env, monkeypatch):
    monkeypatch.setenv("WEBBUILDER_MAX_UPLOAD_MB", "4")  # the 3 MB zip bomb fits
    from webbuilder_app.api.app import create_api

    with TestClient(create_api()) as api:
        token = api.post("/api/auth/register", json={"username": "mallory", "password": "password123"}).json()["token"]
        api.headers["Authorization"] = f"Bearer {token}"
        yield api


def rows(model) -> int:
    with session_scope() as session:
        return session.exec(select(func.count()).select_from(model)).one()


def leftovers() -> list[str]:
    """Everything under the data dir except the database files."""
    data_dir = settings().data_dir
    return sorted(
        str(path.relative_to(data_dir))
        for path in data_dir.rglob("*")
        if path.is_file() and not path.name.startswith("webbuilder.db")
    )


@pytest.mark.parametrize("case", REFUSALS, ids=[case.id for case in REFUSALS])
def test_refused_upload(client, case: Refusal, tmp_path):
    parts = [("files", (name, content, "application/octet-stream")) for name, content in case.files()]

    response = client.post(UPLOAD, data={"name": f"hostile {case.id}"}, files=parts)

    assert response.status_code == case.status, response.text
    body = response.json()
    assert body["success"] is False
    assert case.says in body["message"], body["message"]
    assert rows(Website) == 0 and rows(BuildJob) == 0
    assert leftovers() == []
    assert not (settings().data_dir / "staging").exists() or not any((settings().data_dir / "staging").iterdir())
    assert {p.name for p in tmp_path.iterdir()} <= {"data"}, "nothing written next to the data dir"


def test_a_good_upload_through_the_same_client_is_accepted(client):
    """The refusals above are not the client's fault: a proper project goes through."""
    response = client.post(UPLOAD, data={"name": "fine"}, files=[("files", ("site.zip", zip_bytes(PROJECT), "application/zip"))])
    assert response.status_code == 202, response.text
    assert rows(Website) == 1 and rows(BuildJob) == 1
