"""Publishing a build's output: only what the build made, as plain files, within caps.

The output folder is whatever the build's code left there: links to other users' files, set-id
binaries, FIFOs, sparse files of terabytes. The worker (root) therefore never reads it. The collector
(workers/site_collector.py) runs in the build's sandbox with only this build's project bound,
read-only, so a link can point at nothing else, and it follows none anyway; it streams the regular
files and folders. The worker writes each as a new entry of its own (files 0644, or 0755 when
executable; folders 0755; never set-id), counts bytes and entries as they arrive, stops at the caps
(`WEBBUILDER_MAX_SITE_MB`, `WEBBUILDER_MAX_SITE_FILES`), and believes nothing else the stream says.
While it waits for the stream it checks the build's deadline, a cancel and its lease, like a step.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import select
import shutil
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from workers.build import sandbox, site_collector
from workers.build.site_collector import left_out
from workers.config import settings

T = TypeVar("T")

log = logging.getLogger(__name__)

MIB = 1024 * 1024
CHUNK = 1 << 20
POLL_SECONDS = 0.2
MAX_HEADER_BYTES = 64 * 1024  # a 4096-byte path whose every byte is \u-escaped, and change
MAX_PATH_BYTES = 4096
MAX_LISTED = 20  # names of left-out entries in the job log
MAX_COMPLAINT_LINES = 20
INVALID = "could not collect the build's output (the collector's answer was not understood)"
SWEEP_MARKER = ".published-files-swept"  # in the sites folder, once the sweep of older sites is done
COLLECTOR = Path(site_collector.__file__).read_text()


def new_site(sites_dir: Path, fill: Callable[[Path], T]) -> tuple[str, T]:
    """A new site under an unguessable slug: `fill(staging)` writes it into a hidden staging folder,
    which becomes `sites_dir/<slug>` whole, or not at all (fill raising leaves no site)."""
    slug = secrets.token_hex(10)
    staging = sites_dir / f".tmp-{slug}"
    staging.parent.mkdir(parents=True, exist_ok=True)
    result = fill(staging)
    os.rename(staging, sites_dir / slug)
    return slug, result


class SiteRefused(Exception):
    """The output cannot be published; the message is for the user."""


@dataclass
class Published:
    entries: int = 0  # every entry the collector reported, left-out ones included
    files: int = 0
    bytes: int = 0
    left: list[str] = field(default_factory=list)  # the first MAX_LISTED, as the log shows them
    left_count: int = 0

    def leave(self, path: str, why: object) -> None:
        self.left_count += 1
        if len(self.left) < MAX_LISTED:
            self.left.append(f"{_shown(path)} ({_shown(str(why))[:40]})")

    def left_note(self) -> str | None:
        if not self.left_count:
            return None
        more = self.left_count - len(self.left)
        return "left out of the site: " + ", ".join(self.left) + (f" … and {more} more" if more else "")


def _shown(text: str) -> str:
    """A name from the build as one harmless log line: escapes for control characters, at most 200."""
    return (text if text.isprintable() else ascii(text)[1:-1])[:200]


def _mb(size: int) -> int:
    return math.ceil(size / MIB)


def _interpreter() -> tuple[str, list[sandbox.Mount]]:
    """This Python without the app's virtualenv (the collector needs only the standard library); its
    installation is bound read-only into the sandbox when it is not under /usr."""
    prefix = Path(os.path.realpath(sys.base_prefix))
    executable = prefix / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return str(executable), [] if prefix.is_relative_to("/usr") else [sandbox.Mount(prefix, writable=False)]


def collect(output_dir: Path, project: Path, staging: Path, label: str, check: Callable[[], None]) -> Published:
    """Publish `output_dir` (a real folder in `project`) into the new folder `staging`, whole or not
    at all. `check()` is called at least every POLL_SECONDS and stops the copy by raising. Raises
    SiteRefused (and SandboxUnavailable) with the user's message."""
    python, python_mounts = _interpreter()
    argv = [python, "-I", "-S", "-c", COLLECTOR, str(output_dir)]
    env = {"PATH": sandbox.BUILD_PATH, "LANG": "C.UTF-8"}
    mounts = [sandbox.Mount(project, writable=False), *python_mounts]
    with sandbox.confine(argv, output_dir, env, mounts, None, label, sandbox.limits()) as step:
        proc = subprocess.Popen(step.argv, cwd=project, env=step.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        complaints: deque[str] = deque(maxlen=MAX_COMPLAINT_LINES)  # the last lines: a traceback's end
        reader = threading.Thread(target=_keep_lines, args=(proc.stderr, complaints), daemon=True)
        reader.start()
        try:
            published = _receive(_Stream(proc.stdout.fileno(), check), _Site(staging))
            proc.wait(timeout=10)  # the stream ended: the collector is exiting
            if proc.returncode != 0:
                raise SiteRefused(f"could not collect the build's output: {complaints[-1] if complaints else f'exit {proc.returncode}'}")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)  # all or nothing
            raise
        finally:
            step.guard.kill(proc.pid)
            proc.wait()
            reader.join(timeout=5)
            proc.stdout.close()
    return published


def _keep_lines(stream, kept: deque[str]) -> None:
    for raw in stream:
        kept.append(_shown(raw.decode("utf-8", "replace").rstrip("\n")))


class _Stream:
    """The collector's stdout; waits at most POLL_SECONDS at a time, calling `check()` in between."""

    def __init__(self, fd: int, check: Callable[[], None]):
        self.fd, self.check, self.buffer = fd, check, bytearray()
        self.ready = select.poll()
        self.ready.register(fd, select.POLLIN)

    def _more(self) -> bool:
        """Append what the collector sent next; False at the end of the stream."""
        while True:
            self.check()
            if self.ready.poll(POLL_SECONDS * 1000):
                chunk = os.read(self.fd, CHUNK)
                self.buffer += chunk
                return bool(chunk)

    def line(self) -> bytes | None:
        """The next record's header; None at the end of the stream."""
        while (end := self.buffer.find(b"\n")) < 0:
            if len(self.buffer) > MAX_HEADER_BYTES:
                raise SiteRefused(INVALID)
            if not self._more():
                if self.buffer:
                    raise SiteRefused(INVALID)
                return None
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        return line

    def content(self, size: int) -> Iterator[bytes]:
        """Exactly `size` bytes, in chunks as they arrive."""
        while size:
            if not self.buffer and not self._more():
                raise SiteRefused(INVALID)
            chunk = bytes(self.buffer[:size])
            del self.buffer[: len(chunk)]
            size -= len(chunk)
            yield chunk


class _Site:
    """The new site's folder, written by the worker alone: every entry created anew inside a folder
    it created itself (O_EXCL, O_NOFOLLOW), files 0644 or 0755, folders 0755."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir()
        os.chmod(root, 0o755)
        self.folders: set[tuple[str, ...]] = {()}

    def _new(self, parts: tuple[str, ...]) -> Path:
        if parts[:-1] not in self.folders:
            raise SiteRefused(INVALID)  # a folder's entries come after the folder
        return self.root.joinpath(*parts)

    def folder(self, parts: tuple[str, ...]) -> None:
        path = self._new(parts)
        try:
            path.mkdir()
        except FileExistsError:
            raise SiteRefused(INVALID) from None
        os.chmod(path, 0o755)
        self.folders.add(parts)

    def file(self, parts: tuple[str, ...], executable: bool, content: Iterator[bytes]) -> int:
        try:
            fd = os.open(self._new(parts), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            raise SiteRefused(INVALID) from None
        written = 0
        with open(fd, "wb", buffering=0) as out:
            for chunk in content:
                out.write(chunk)
                written += len(chunk)
            os.fchmod(fd, 0o755 if executable else 0o644)
        return written


def _parse(line: bytes) -> tuple[str, tuple[str, ...], dict]:
    """A record's kind, path components and fields, or SiteRefused when anything is off."""
    try:
        record = json.loads(line)
        kind, path = record["kind"], record["path"]
        parts = tuple(path.split("/"))
        valid = kind in ("dir", "file", "left") and len(os.fsencode(path)) <= MAX_PATH_BYTES
    except (ValueError, KeyError, TypeError, AttributeError):  # UnicodeEncodeError is a ValueError
        raise SiteRefused(INVALID) from None
    valid = valid and not any(part in ("", ".", "..") or "\0" in part for part in parts)
    if kind != "left":
        valid = valid and left_out(parts) is None
    if kind == "file":
        size = record.get("size")
        valid = valid and type(size) is int and size >= 0
    if not valid:
        raise SiteRefused(INVALID)
    return kind, parts, record


def _receive(stream: _Stream, site: _Site) -> Published:
    cfg = settings()
    limit = cfg.max_site_mb * MIB
    published = Published()
    while (line := stream.line()) is not None:
        kind, parts, record = _parse(line)
        published.entries += 1
        if published.entries > cfg.max_site_files:
            raise SiteRefused(f"site has too many files (more than {cfg.max_site_files} files and folders)")
        if kind == "left":
            published.leave("/".join(parts), record.get("why"))
        elif kind == "dir":
            site.folder(parts)
        else:
            size = record["size"]
            if published.bytes + size > limit:
                raise SiteRefused(f"site too large ({_mb(published.bytes + size)} MB, limit {cfg.max_site_mb} MB)")
            published.bytes += site.file(parts, record.get("exec") is True, stream.content(size))
            published.files += 1
    return published


# --- sites published before these rules -------------------------------------------------------------


def sweep_published() -> None:
    """Make sites published before these rules what publishing makes now: dotfiles (but the top-level
    `.well-known/`), node_modules, links and special files removed, set-id and write bits of others
    cleared. Once per data folder (a marker file records it); two workers running it at once, or a
    sweep interrupted and run again, do no harm."""
    sites = settings().sites_dir
    if not sites.is_dir() or (sites / SWEEP_MARKER).exists():
        return
    swept = removed = 0
    for site in sorted(sites.iterdir()):
        if not site.name.startswith(".") and site.is_dir() and not site.is_symlink():
            swept, removed = swept + 1, removed + _clean(site, (), site.name)
    (sites / SWEEP_MARKER).touch()
    log.info("swept %d published site(s): removed %d dotfile(s), link(s) or special file(s)", swept, removed)


def _clean(folder: Path, parts: tuple[str, ...], site: str) -> int:
    removed = 0
    with os.scandir(folder) as listing:
        entries = list(listing)
    for entry in entries:
        here = (*parts, entry.name)
        try:
            mode = entry.stat(follow_symlinks=False).st_mode
            is_dir, is_file = entry.is_dir(follow_symlinks=False), entry.is_file(follow_symlinks=False)
            if left_out(here) or not (is_dir or is_file):
                shutil.rmtree(entry.path) if is_dir else os.unlink(entry.path)
                log.info("removed %s from published site %s", _shown("/".join(here)), site)
                removed += 1
                continue
            wanted = 0o755 if is_dir or mode & 0o111 else 0o644
            if mode & 0o7777 != wanted:
                os.chmod(entry.path, wanted)
        except FileNotFoundError:  # another worker's sweep got there first
            continue
        if is_dir:
            removed += _clean(Path(entry.path), here, site)
    return removed
