"""The server's own secret, kept in the data folder (0600) and made on first use: it names things a
client must not be able to guess (the live feeds' shared states)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from workers.config import settings

FILE_NAME = "server-secret"


@functools.cache
def _secret_in(data_dir: Path) -> bytes:
    path = data_dir / FILE_NAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        draft = data_dir / f".{FILE_NAME}.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(draft, path)  # atomic: of two processes starting at once, one secret wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return bytes.fromhex(path.read_text().strip())


def keyed_name(purpose: str, value: object) -> str:
    """An unguessable, stable name for `value` (hex: no '_' and not the shape of a client token)."""
    secret = _secret_in(settings().data_dir)
    return hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:40]
