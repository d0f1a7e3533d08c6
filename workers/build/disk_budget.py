"""How much disk a build folder holds, checked while its step runs (`WEBBUILDER_BUILD_DISK_MB`).

No filesystem quota exists for a plain folder, so the folders are walked: allocated blocks of each
distinct inode (a hard link is counted once, a sparse file by what it really takes). Folders the
build cannot write are skipped: the sealed packages the dependency cache linked in (root's, shared
with the cache) cost this build nothing and hold most of the entries. A walk of a React project's
own files takes a few milliseconds; walks are spaced so they take at most 5 % of the step's time.
Between walks a build can write at disk speed, but no single file beyond the cap: each step also
runs under RLIMIT_FSIZE of the same size.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

MIN_INTERVAL = 1.0
DUTY = 0.05


def allocated_bytes(roots: Iterable[Path], skip_owner: int | None = None) -> int:
    """Bytes allocated to the files under `roots`, each inode once; folders owned by `skip_owner`
    are not entered."""
    seen: set[tuple[int, int]] = set()
    total = 0
    pending = [str(root) for root in roots]
    while pending:
        try:
            listing = os.scandir(pending.pop())
        except OSError:
            continue
        with listing:
            for entry in listing:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
                if entry.is_dir(follow_symlinks=False) and info.st_uid != skip_owner:
                    pending.append(entry.path)
    return total


class DiskBudget:
    """`over()` says whether the folders hold more than `limit_bytes`, walking them when due."""

    def __init__(self, roots: list[Path], limit_bytes: int, skip_owner: int | None = None):
        self.roots = roots
        self.limit_bytes = limit_bytes
        self.skip_owner = skip_owner
        self._next = 0.0
        self.used = 0

    def over(self, now_or_never: bool = False) -> bool:
        """While a step runs, when due; with `now_or_never`, at once (after the step: a quick build
        can fill the disk between two walks)."""
        now = time.monotonic()
        if now < self._next and not now_or_never:
            return False
        self.used = allocated_bytes(self.roots, self.skip_owner)
        took = time.monotonic() - now
        self._next = now + max(MIN_INTERVAL, took / DUTY)
        return self.used > self.limit_bytes


def tree_bytes(folder: Path) -> int:
    """The sizes of the files under `folder` (a symlink's own size; 0 if it is missing)."""
    total = 0
    pending = [str(folder)] if folder.is_dir() else []
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                else:
                    total += entry.stat(follow_symlinks=False).st_size
    return total
