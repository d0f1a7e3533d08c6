"""Reads a build's output folder for publishing, inside the build's sandbox (see workers/publishing.py).

Run as `python -I -S -c <this file's source> <folder>`: standard library only, nothing of the app
imported. It writes to stdout one record per entry, a JSON line, followed for a file by exactly
`size` bytes of its content:

    {"kind": "dir", "path": "assets"}
    {"kind": "file", "path": "assets/app.js", "size": 1234, "exec": false}
    {"kind": "left", "path": ".env", "why": "dotfile"}

A folder's record comes before its entries. Nothing is followed: every entry is opened relative to
its folder's descriptor with O_NOFOLLOW, so a symlink is reported as left out, never read, and only
regular files and folders are sent. Dotfiles (except the top-level `.well-known/`) and
`node_modules` are left out by name, unread.
"""

from __future__ import annotations

import json
import os
import stat
import sys

WELL_KNOWN = ".well-known"
CHUNK = 1 << 20
SPECIAL = {stat.S_IFLNK: "symlink", stat.S_IFIFO: "fifo", stat.S_IFSOCK: "socket", stat.S_IFCHR: "device", stat.S_IFBLK: "device"}


def left_out(parts: tuple[str, ...]) -> str | None:
    """Why the entry at `parts` (its path's components, from the site's root) is not published,
    judged by name alone; None if it may be. The site server refuses the same paths."""
    name = parts[-1]
    if name == "node_modules":
        return "dependencies"
    if name.startswith(".") and parts != (WELL_KNOWN,):
        return "dotfile"
    return None


def _record(out, **fields) -> None:
    out.write(json.dumps(fields).encode("ascii") + b"\n")  # ASCII: odd names travel as \u escapes


def _send(out, folder: int, name: str, entry: tuple[str, ...]) -> str | None:
    """Send the entry `name` of the open `folder` if it is a regular file or a folder (with its
    entries); else say why it is left out."""
    path = "/".join(entry)
    try:
        kind = stat.S_IFMT(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
        if kind not in (stat.S_IFDIR, stat.S_IFREG):
            return SPECIAL.get(kind, "not a file")
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        fd = os.open(name, flags | (os.O_DIRECTORY if kind == stat.S_IFDIR else 0), dir_fd=folder)
    except PermissionError:
        return "unreadable"
    try:
        info = os.fstat(fd)
        if stat.S_IFMT(info.st_mode) != kind:
            return "replaced while read"
        if kind == stat.S_IFDIR:
            _record(out, kind="dir", path=path)
            _send_folder(out, fd, entry)
            return None
        _record(out, kind="file", path=path, size=info.st_size, exec=bool(info.st_mode & 0o111))
        remaining = info.st_size  # exactly what the record says, even if the file grows meanwhile
        while remaining:
            chunk = os.read(fd, min(CHUNK, remaining))
            if not chunk:
                raise SystemExit(f"{path!r} shrank while it was read")
            out.write(chunk)
            remaining -= len(chunk)
        return None
    finally:
        os.close(fd)


def _send_folder(out, folder: int, parts: tuple[str, ...]) -> None:
    with os.scandir(folder) as listing:
        names = sorted(entry.name for entry in listing)
    for name in names:
        entry = (*parts, name)
        why = left_out(entry) or _send(out, folder, name, entry)
        if why:
            _record(out, kind="left", path="/".join(entry), why=why)


def main(root: str) -> None:
    out = sys.stdout.buffer
    folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    _send_folder(out, folder, ())
    out.flush()


if __name__ == "__main__":
    main(sys.argv[1])
