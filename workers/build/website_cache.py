"""What one deployment of a website hands on to the next: the type checker's incremental state
(`*.tsbuildinfo`) and the bundlers' caches, kept in the website's own folder
(`workers.store.files.website_cache_dir`), never shared with another website.

After a successful build, `save` copies them out of the build folder, replacing the website's
previous copy; the next deployment's build `restore`s them into its fresh folder after the install,
before the type check. The files were written by the user's build code, so they are untrusted data:
- copied, never linked or moved: regular files and folders only, found without following symbolic
  links (links, FIFOs, sockets and devices are skipped), each file opened with O_NOFOLLOW and checked
  again once open;
- with their modes normalised (folders 0755, files 0644, or 0755 when executable; never set-id) and,
  when restored, owned by `owner` (the sandbox's uid) so the build can read and replace them;
- within MAX_BYTES and MAX_FILES: a larger cache is not kept at all.
A new copy is written under a temporary name and swapped in (two renames) under an exclusive lock
that restores hold shared, so a restore sees the old copy or the new one, never a mix.

A stale cache must never hide an error. `tsc -b` decides that a project is up to date by comparing
timestamps: a tsbuildinfo newer than the sources makes it skip the check altogether. So before each
type check every tsbuildinfo in the build folder, restored or uploaded, gets the epoch as its mtime
(`expire_tsc_state`): tsc then always checks, reusing only what the content hashes stored in the
tsbuildinfo prove unchanged. Nor is the state of a type check that writes files kept (a composite
project emitting declarations): its outputs are not kept, and from a restored tsbuildinfo tsc would
re-emit only the files that changed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
MAX_BYTES = 200 * MIB
MAX_FILES = 20_000
# Bundlers' caches, kept whole (paths relative to the project).
BUNDLER_CACHES = ("node_modules/.vite", "node_modules/.cache", ".next/cache", ".parcel-cache")
TSC_STATE = ".tsbuildinfo"
# tsbuildinfo files are looked for in the project's own files and in node_modules/.tmp (where Vite's
# templates put them), not among the packages (some ship theirs), nor in the bundlers' caches.
NOT_SEARCHED = {"node_modules", ".git"}
TSC_SCRATCH = "node_modules/.tmp"
# What decides whether tsc writes files: the tsconfig files, and the lockfile (configs a project
# extends may come from a package).
TYPECHECK_INPUTS = ("tsconfig", "jsconfig")
LOCKFILE = "package-lock.json"
FILES = "files"
META = "meta.json"
CHUNK = MIB


@dataclass(frozen=True)
class Restored:
    files: int
    bytes: int
    # Whether the last kept deployment's type check wrote files (see steps.ProjectBuild.alongside);
    # None when not known for this project's tsconfig files (changed since, or no type check ran).
    tsc_writes_files: bool | None


@dataclass(frozen=True)
class Kept:
    files: int
    bytes: int
    refused: str | None = None  # why nothing was kept


class WebsiteCache:
    def __init__(self, folder: Path, max_bytes: int = MAX_BYTES, max_files: int = MAX_FILES):
        self.folder = folder
        self.max_bytes = max_bytes
        self.max_files = max_files

    def restore(self, project: Path, owner: tuple[int, int] | None) -> Restored | None:
        """Copy the kept files into `project` (where it has no such path already), made `owner`'s;
        None when the website has nothing kept. On an error, what was copied is removed again."""
        with _locked(self.folder.parent, exclusive=False):
            try:
                meta = json.loads((self.folder / META).read_text())
            except (OSError, ValueError):
                return None
            created: list[Path] = []
            count = size = 0
            try:
                for relative, _ in _walk(self.folder / FILES, "", self.max_files):
                    copied = _copy(self.folder / FILES / relative, project, relative, owner, created, self.max_bytes - size)
                    if copied is not None:
                        count, size = count + 1, size + copied
            except BaseException as exc:
                for path in reversed(created):
                    _remove(path)
                if isinstance(exc, _OverCap):  # not what was saved: use none of it
                    return None
                raise
        typecheck = meta.get("typecheck") or {}
        inputs = _typecheck_inputs(project)
        known = inputs is not None and typecheck.get("inputs") == inputs
        return Restored(count, size, typecheck.get("writesFiles") if known else None)

    def save(self, project: Path, tsc_writes_files: bool | None) -> Kept:
        """Keep `project`'s type checker state (unless its type check writes files) and bundler caches
        as the website's, in place of what was kept before. Over the caps, nothing is kept."""
        try:
            wanted = _tsc_state_files(project, self.max_files) if tsc_writes_files is not True else []
            for folder in BUNDLER_CACHES:
                wanted += _walk(project, folder, self.max_files)
            over = len(wanted) > self.max_files or sum(size for _, size in wanted) > self.max_bytes
        except _OverCap:
            over = True
        if over:
            self.forget()
            return Kept(0, 0, f"build caches not kept: more than the {self.max_bytes // MIB} MB or {self.max_files} "
                              "files a website keeps for its next deployment")
        staging = self.folder.with_name(f"{self.folder.name}.new-{uuid.uuid4().hex}")
        (staging / FILES).mkdir(parents=True)
        try:
            count = size = 0
            for relative, _ in wanted:
                copied = _copy(project / relative, staging / FILES, relative, None, [], self.max_bytes - size)
                if copied is not None:
                    count, size = count + 1, size + copied
            inputs = _typecheck_inputs(project)
            typecheck = {"inputs": inputs, "writesFiles": tsc_writes_files} if tsc_writes_files is not None and inputs else None
            (staging / META).write_text(json.dumps({"files": count, "bytes": size, "typecheck": typecheck}))
            self._swap_in(staging)
        except _OverCap:
            self.forget()
            return Kept(0, 0, f"build caches not kept: they grew past {self.max_bytes // MIB} MB while being copied")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return Kept(count, size)

    def _swap_in(self, staging: Path) -> None:
        old = self.folder.with_name(f"{self.folder.name}.old-{uuid.uuid4().hex}")
        with _locked(self.folder.parent, exclusive=True):
            try:
                os.rename(self.folder, old)
            except FileNotFoundError:
                pass
            os.rename(staging, self.folder)
        shutil.rmtree(old, ignore_errors=True)

    def forget(self) -> None:
        """Remove what the website keeps (and copies a worker that died left half-written)."""
        if not self.folder.parent.is_dir():
            return
        trash = []
        with _locked(self.folder.parent, exclusive=True):
            for path in [self.folder, *self.folder.parent.glob(f"{self.folder.name}.*-*")]:
                moved = path.with_name(f".trash-{uuid.uuid4().hex}")
                try:
                    os.rename(path, moved)
                    trash.append(moved)
                except FileNotFoundError:
                    pass
        for path in trash:
            shutil.rmtree(path, ignore_errors=True)


def forget(folder: Path) -> None:
    """Remove a website's kept build caches (when the website is deleted)."""
    WebsiteCache(folder).forget()


def expire_tsc_state(project: Path) -> int:
    """Give every tsbuildinfo in the project the epoch as its mtime, so `tsc -b` never takes one
    for newer than the sources (and skips its check); returns how many there were."""
    found = _tsc_state_files(project, None)
    for relative, _ in found:
        os.utime(project / relative, (0, 0), follow_symlinks=False)
    return len(found)


# --- walking and copying untrusted trees -----------------------------------------------------------


class _OverCap(Exception):
    """More entries than the cap allows, or a file grew past the bytes it still allowed."""


@contextmanager
def _locked(parent: Path, exclusive: bool) -> Iterator[None]:
    parent.mkdir(parents=True, exist_ok=True)
    with open(parent / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _lstat_mode(path: Path) -> int:
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


def _real_folder(root: Path, relative: str) -> bool:
    """root/relative is a folder reached through folders only (no symbolic link on the way: the
    build's code could have made one point anywhere on the host)."""
    folder = root
    for part in [part for part in relative.split("/") if part]:
        folder = folder / part
        if not stat.S_ISDIR(_lstat_mode(folder)):
            return False
    return stat.S_ISDIR(_lstat_mode(root))


def _walk(root: Path, start: str, limit: int | None, skip: Callable[[str], bool] = lambda relative: False) -> list[tuple[str, int]]:
    """(path relative to `root`, size) of the regular files under root/start: symbolic links not
    followed, anything but files and folders left out, folders for which `skip(relative)` is true not
    entered. Raises _OverCap past `limit` entries (folders count too)."""
    if not _real_folder(root, start):
        return []
    found, pending, seen = [], [start], 0
    while pending:
        folder = pending.pop()
        try:
            listing = os.scandir(root / folder if folder else root)
        except OSError:
            continue
        with listing:
            for entry in listing:
                seen += 1
                if limit is not None and seen > limit:
                    raise _OverCap()
                relative = f"{folder}/{entry.name}" if folder else entry.name
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(info.st_mode):
                    if not skip(relative):
                        pending.append(relative)
                elif stat.S_ISREG(info.st_mode):
                    found.append((relative, info.st_size))
    return found


def _not_searched(relative: str) -> bool:
    return relative.rsplit("/", 1)[-1] in NOT_SEARCHED or relative in BUNDLER_CACHES


def _tsc_state_files(project: Path, limit: int | None) -> list[tuple[str, int]]:
    """The tsbuildinfo files among the project's own files and in node_modules/.tmp."""
    candidates = _walk(project, "", limit, _not_searched) + _walk(project, TSC_SCRATCH, limit)
    return [(relative, size) for relative, size in candidates if relative.endswith(TSC_STATE)]


def _typecheck_inputs(project: Path) -> str | None:
    """A digest of what decides whether the project's type check writes files; None for a project
    too large to tell."""
    try:
        names = [relative for relative, _ in _walk(project, "", MAX_FILES, _not_searched)
                 if relative.rsplit("/", 1)[-1].startswith(TYPECHECK_INPUTS) and relative.endswith(".json")]
    except _OverCap:
        return None
    digest = hashlib.sha256()
    for relative in sorted({*names, LOCKFILE}):
        digest.update(relative.encode() + b"\0")
        try:
            fd = os.open(project / relative, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            digest.update(b"\1missing\0")
            continue
        with open(fd, "rb") as stream:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                digest.update(stream.read(MAX_BYTES))
        digest.update(b"\0")
    return digest.hexdigest()


def _copy(source: Path, root: Path, relative: str, owner: tuple[int, int] | None, created: list[Path], budget: int) -> int | None:
    """Copy the regular file `source` to root/relative with a normalised mode, creating the folders on
    the way; each thing made is added to `created`. None, and nothing written, when `source` is not a
    regular file (any more), the target exists, or something on the way is not a real folder. Raises
    _OverCap when the file holds more than `budget` bytes."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with open(fd, "rb") as reading:
        info = os.fstat(fd)
        target = _folder_for(root, relative, owner, created) if stat.S_ISREG(info.st_mode) else None
        if target is None or os.path.lexists(target):
            return None
        mode = 0o755 if info.st_mode & 0o111 else 0o644  # never set-id, never writable by others
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        created.append(target)
        with open(out, "wb") as writing:
            os.fchmod(out, mode)  # whatever the umask
            if owner is not None:
                os.fchown(out, *owner)
            copied = 0
            while chunk := reading.read(CHUNK):
                copied += len(chunk)
                if copied > budget:
                    raise _OverCap()
                writing.write(chunk)
        return copied


def _folder_for(root: Path, relative: str, owner: tuple[int, int] | None, created: list[Path]) -> Path | None:
    """root/relative, with the folders on the way made where missing (0755, `owner`'s); None when
    one of them is not a real folder (a symbolic link, a file)."""
    *parents, name = relative.split("/")
    folder = root
    for part in parents:
        folder = folder / part
        mode = _lstat_mode(folder)
        if mode == 0:
            os.mkdir(folder, 0o755)
            created.append(folder)
            os.chmod(folder, 0o755)
            if owner is not None:
                os.chown(folder, *owner)
        elif not stat.S_ISDIR(mode):
            return None
    return folder / name


def _remove(path: Path) -> None:
    try:
        if stat.S_ISDIR(_lstat_mode(path)):
            os.rmdir(path)  # one we made, empty once what we put in it is gone (removed first)
        else:
            os.unlink(path)
    except OSError:
        pass
