"""node_modules cache keyed by the lockfile, restored by hard links.

Restoring a cached tree with `cp -al` takes ~0.1 s where `npm ci` takes ~3 s even with npm's own cache
warm. Entries are written under a temporary name and renamed into place, so two builds populating the
same key never see a half-written tree; the loser's copy is discarded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

LOCKFILE = "package-lock.json"


@dataclass(frozen=True)
class CacheKey:
    digest: str | None
    reason: str  # why there is no usable key, when digest is None


def tool_versions() -> str:
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    npm = subprocess.run(["npm", "--version"], capture_output=True, text=True).stdout.strip()
    return f"node {node} npm {npm}"


def key_for(project: Path, toolchain: str) -> CacheKey:
    lockfile = project / LOCKFILE
    if not lockfile.is_file():
        return CacheKey(None, "no lockfile")
    digest = hashlib.sha256()
    digest.update(toolchain.encode())
    digest.update(b"\0")
    digest.update(lockfile.read_bytes())
    return CacheKey(digest.hexdigest(), "")


class DependencyCache:
    def __init__(self, root: Path):
        self.root = root / "deps"

    def _entry(self, digest: str) -> Path:
        return self.root / digest

    def restore(self, digest: str, project: Path) -> bool:
        entry = self._entry(digest)
        if not (entry / "node_modules").is_dir():
            return False
        subprocess.run(["cp", "-al", str(entry / "node_modules"), str(project / "node_modules")], check=True)
        os.utime(entry)  # recency for LRU eviction
        return True

    def store(self, digest: str, project: Path) -> None:
        entry = self._entry(digest)
        if entry.exists() or not (project / "node_modules").is_dir():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".tmp-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            subprocess.run(["cp", "-al", str(project / "node_modules"), str(staging / "node_modules")], check=True)
            os.rename(staging, entry)
        except OSError:
            pass  # another build stored the same key first
        finally:
            shutil.rmtree(staging, ignore_errors=True)
