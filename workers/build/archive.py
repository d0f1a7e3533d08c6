"""Unpacking users' uploaded projects: a zip archive or a browser folder upload.

Uploads come from strangers, so every name and size is checked before anything is written (for a zip,
every entry before the first byte; for a folder upload, each name before its bytes). Python 3.11.7's
zipfile lacks the CVE-2024-0450 overlapping-entry check and tarfile's filter='data' has known bypasses,
so only zip is accepted and every rule is enforced here rather than trusted to the standard library:
entry names, entry types, declared sizes, compression ratios, overlapping entries, and the bytes that
actually come out of the decompressor.

Every refusal is an `UserError` whose message can be shown to the user as is. When a refusal happens
part-way through writing, whatever was written into the destination is removed again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import BinaryIO

from workers.errors import UserError

MIB = 1024 * 1024
MAX_NAME_CHARS = 1024
MAX_COMPONENT_BYTES = 255  # NAME_MAX on Linux file systems, which counts bytes, not characters
RATIO_CHECK_FLOOR = MIB  # small files (minified JS, SVG) legitimately compress very well
COPY_CHUNK = MIB

# A zip file starts with a local file header, or, when it holds no entries at all, with the
# end-of-central-directory record. zipfile itself also accepts junk in front of those (self-extracting
# archives), which is how polyglot files get in; we don't.
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # signature ... file name length, extra field length
ENCRYPTED_FLAG = 0x1
# Stored and deflate are what every zip tool (Finder, Explorer, `zip`, browsers) produces; the other
# methods zipfile can read only add decompressors, and their quirks, to the attack surface.
SUPPORTED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)

# C0 controls, DEL, C1 controls, and lone surrogates (which cannot be encoded into a file name).
FORBIDDEN_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
DRIVE_LETTER = re.compile(r"[A-Za-z]:")
SPECIAL_FILE_TYPES = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
}

NOT_A_ZIP = "not a zip archive: upload a .zip file or a folder"


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps on what one upload may unpack to; the defaults fit a large real-world web project."""

    max_entries: int = 10_000
    max_total_bytes: int = 1024 * MIB  # both the declared sizes and the bytes actually written
    max_entry_ratio: float = 200.0  # uncompressed/compressed, for entries over RATIO_CHECK_FLOOR
    max_entry_bytes: int = 256 * MIB


def extract_zip(zip_path: Path, dest: Path, limits: ArchiveLimits = ArchiveLimits()) -> list[str]:
    """Validate every entry of the zip at `zip_path`, then unpack it into `dest`.

    `dest` must be an existing, empty directory; that is what makes it safe to delete everything in
    it when a refusal happens part-way through writing. Returns the relative paths of the files
    written, in archive order. Raises UserError for anything the user has to fix.
    """
    destination = _Destination(dest)
    with _open_zip(zip_path) as archive:
        entries = _checked_entries(archive, zip_path, limits)
        with destination:
            written: list[str] = []
            for info, parts in entries:
                if _names_folder(info.orig_filename):
                    destination.make_folder(parts, info.orig_filename)
                else:
                    _unpack_entry(archive, info, parts, destination)
                    written.append("/".join(parts))
            return written


def write_files(
    files: Iterable[tuple[str, BinaryIO]], dest: Path, limits: ArchiveLimits = ArchiveLimits()
) -> list[str]:
    """Write a browser folder upload into the empty directory `dest`.

    Each name is the browser's webkitRelativePath (e.g. 'my-site/src/main.tsx') and is held to the
    same rules as a zip entry name. Nothing declares sizes here, so each stream is counted as it is
    copied and cut off at the per-file and total limits. Returns the relative paths written.
    """
    destination = _Destination(dest)
    layout = _Layout()
    written: list[str] = []
    total = 0
    with destination:
        for name, stream in files:
            if len(written) == limits.max_entries:
                raise UserError(f"the upload has more than {limits.max_entries:,} files", status=413)
            parts = _checked_parts(name)
            if _names_folder(name):
                raise UserError(f"entry {_quoted(name)} names a folder, but a file was expected")
            layout.claim(name, parts, is_folder=False)
            allowance = min(limits.max_entry_bytes, limits.max_total_bytes - total)
            with destination.create_file(parts, name) as out:
                copied = _copy_at_most(stream, out, allowance)
            if copied > allowance:
                if allowance == limits.max_entry_bytes:
                    message = f"entry {_quoted(name)} is larger than the {_mb(allowance)} per-file limit"
                else:
                    message = f"the upload is larger than the {_mb(limits.max_total_bytes)} limit"
                raise UserError(message, status=413)
            total += copied
            written.append("/".join(parts))
        if not written:
            raise UserError("the upload is empty")
    return written


def strip_common_root(dest: Path) -> None:
    """Lift the contents of a lone top-level folder into `dest` itself.

    Zipping a folder puts everything under 'my-site/', but the build looks for package.json and
    index.html at the top. The folder is first renamed to a name that none of its children use, so
    a child with the folder's own name ('my-site/my-site/') can be moved up without a clash.
    """
    children = list(dest.iterdir())
    if len(children) != 1 or not children[0].is_dir() or children[0].is_symlink():
        return
    root = children[0]
    inner_names = set(os.listdir(root))
    holding = dest / _unused_name(inner_names)
    root.rename(holding)
    for name in inner_names:
        (holding / name).rename(dest / name)
    holding.rmdir()


def detect_project(dest: Path) -> str:
    """Tell how to build the upload: 'react', 'node' (any other package.json) or 'static'.

    Raises UserError (status 422) when there is nothing to build or package.json can't be read, with the
    parser's line and column so the user can find the mistake.
    """
    manifest = dest / "package.json"
    if manifest.is_file():
        package = _read_package_json(manifest)
        sections = (package.get("dependencies"), package.get("devDependencies"))
        # The isinstance check matters: `"react" in "react-dom"` is true for a (broken) string value.
        return "react" if any(isinstance(s, dict) and "react" in s for s in sections) else "node"
    if (dest / "index.html").is_file():
        return "static"
    raise UserError("no package.json or index.html at the top level of the upload", status=422)


class _Destination:
    """Creates files and folders under one directory and nowhere else; empties it again on error.

    Names are validated before they get here; the checks in this class make sure the file system did
    what validation assumed: every folder created resolves inside the root, and nothing that already
    exists is followed or overwritten (a symlink put there by something else, or a case-insensitive
    file system merging two names).
    """

    def __init__(self, dest: Path) -> None:
        if any(dest.iterdir()):
            # A programming error, not the user's: cleaning up would delete what is already there.
            raise ValueError(f"{dest} must be an empty directory")
        self.root = dest.resolve()
        self._folders = {self.root}

    def __enter__(self) -> _Destination:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None:
            self._remove_everything()

    def make_folder(self, parts: list[str], name: str) -> Path:
        """Create the folder `parts` (and its parents) with mode 0o755, whatever the archive said."""
        path = self.root
        for part in parts:
            path = path / part
            if path in self._folders:
                continue
            try:
                os.mkdir(path, 0o755)
            except FileExistsError:
                raise _collision(name) from None
            if not path.resolve().is_relative_to(self.root):
                raise UserError(f"entry {_quoted(name)} would be written outside the upload folder")
            os.chmod(path, 0o755)  # mkdir's mode is reduced by the umask
            self._folders.add(path)
        return path

    def create_file(self, parts: list[str], name: str) -> BinaryIO:
        """Open a new file for writing with mode 0o644; never follows or replaces anything existing.

        The folder is verified to resolve inside the root and O_NOFOLLOW covers the last component,
        so the file itself is inside the root too.
        """
        folder = self.make_folder(parts[:-1], name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(folder / parts[-1], flags, 0o644)
        except FileExistsError:
            raise _collision(name) from None
        os.fchmod(fd, 0o644)
        return open(fd, "wb")

    def _remove_everything(self) -> None:
        for child in self.root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()


class _Layout:
    """Remembers every path claimed so far, so that no two entries land on the same file and no file
    sits where another entry needs a folder."""

    def __init__(self) -> None:
        self._claimed: set[str] = set()
        self._files: set[str] = set()
        self._folders: set[str] = set()  # claimed explicitly or implied as some entry's parent

    def claim(self, name: str, parts: list[str], is_folder: bool) -> None:
        path = "/".join(parts)
        parents = ["/".join(parts[:depth]) for depth in range(1, len(parts))]
        if path in self._claimed:
            raise UserError(f"entry {_quoted(name)} has the same path as another entry")
        if (not is_folder and path in self._folders) or any(p in self._files for p in parents):
            raise UserError(f"entry {_quoted(name)} needs a path that is both a file and a folder")
        self._claimed.add(path)
        (self._folders if is_folder else self._files).add(path)
        self._folders.update(parents)


def _open_zip(zip_path: Path) -> zipfile.ZipFile:
    with open(zip_path, "rb") as raw:
        if raw.read(4) not in ZIP_MAGICS:
            raise UserError(NOT_A_ZIP, status=415)
    try:
        return zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, NotImplementedError) as exc:
        raise UserError(f"{NOT_A_ZIP} ({exc})", status=415) from exc
    except UnicodeDecodeError as exc:
        raise UserError("an entry name is marked as UTF-8 but is not valid UTF-8") from exc


def _checked_entries(
    archive: zipfile.ZipFile, zip_path: Path, limits: ArchiveLimits
) -> list[tuple[zipfile.ZipInfo, list[str]]]:
    """Apply every rule to the central directory; return each entry with its normalized path parts.

    Names come from `orig_filename`, because zipfile's `filename` silently cuts a name at its first
    NUL byte, which would hide exactly the trick the NUL check is for.
    """
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise UserError(
            f"the archive has {len(infos):,} entries, more than the {limits.max_entries:,} allowed",
            status=413,
        )
    layout = _Layout()
    entries = []
    for info in infos:
        parts = _checked_parts(info.orig_filename)
        _check_entry_kind(info)
        layout.claim(info.orig_filename, parts, _names_folder(info.orig_filename))
        entries.append((info, parts))
    if all(_names_folder(info.orig_filename) for info in infos):
        raise UserError("the archive is empty")
    _check_declared_sizes(infos, limits)
    _check_no_overlap(infos, zip_path, archive.start_dir)
    return entries


def _checked_parts(name: str) -> list[str]:
    """Return the path components of an entry name, or refuse a name that could escape or confuse.

    '.' and empty components (from 'a/./b' or 'a//b') are dropped, so the result is the normalized
    path that duplicate detection compares.
    """
    if not name:
        raise UserError("an entry has an empty name")
    if len(name) > MAX_NAME_CHARS:
        raise UserError(f"entry {_quoted(name)} has a name longer than {MAX_NAME_CHARS} characters")
    if FORBIDDEN_CHARS.search(name):
        raise UserError(f"entry {_quoted(name)} contains a control character or invalid code point")
    if "\\" in name:
        raise UserError(f"entry {_quoted(name)} contains a backslash; paths must use '/'")
    if name.startswith("/"):
        raise UserError(f"entry {_quoted(name)} is an absolute path")
    if DRIVE_LETTER.match(name):
        raise UserError(f"entry {_quoted(name)} starts with a drive letter")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UserError(f"entry {_quoted(name)} contains a '..' component")
    if not parts:
        raise UserError(f"entry {_quoted(name)} has an empty path")
    if any(len(part.encode()) > MAX_COMPONENT_BYTES for part in parts):
        raise UserError(
            f"entry {_quoted(name)} has a path component longer than {MAX_COMPONENT_BYTES} bytes"
        )
    return parts


def _check_entry_kind(info: zipfile.ZipInfo) -> None:
    """Refuse encrypted entries, unusual compression, and anything but plain files and folders.

    The file type lives in the Unix mode in the upper 16 bits of external_attr; archives made on
    other systems leave it 0, which is accepted.
    """
    name = info.orig_filename
    if info.flag_bits & ENCRYPTED_FLAG:
        raise UserError(f"entry {_quoted(name)} is encrypted; upload an archive without a password")
    if info.compress_type not in SUPPORTED_COMPRESSION:
        raise UserError(
            f"entry {_quoted(name)} uses compression method {info.compress_type}; "
            "re-create the archive with standard (deflate) compression",
            status=415,
        )
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if _names_folder(name):
        if file_type not in (0, stat.S_IFDIR):
            what = SPECIAL_FILE_TYPES.get(file_type, "not a folder, although its name ends in '/'")
            raise UserError(f"entry {_quoted(name)} is {what}; only files and folders are accepted")
    elif file_type not in (0, stat.S_IFREG):
        what = SPECIAL_FILE_TYPES.get(file_type, f"of file type {file_type:#o}, not a regular file")
        raise UserError(f"entry {_quoted(name)} is {what}; only files and folders are accepted")


def _check_declared_sizes(infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    total = sum(info.file_size for info in infos)
    if total > limits.max_total_bytes:
        raise UserError(
            f"the archive unpacks to {_mb(total)}, more than the {_mb(limits.max_total_bytes)} limit",
            status=413,
        )
    for info in infos:
        name = _quoted(info.orig_filename)
        compresses_suspiciously_well = info.file_size > limits.max_entry_ratio * info.compress_size
        if info.file_size > limits.max_entry_bytes:
            raise UserError(
                f"entry {name} unpacks to {_mb(info.file_size)}, "
                f"more than the {_mb(limits.max_entry_bytes)} per-file limit",
                status=413,
            )
        if info.file_size > RATIO_CHECK_FLOOR and compresses_suspiciously_well:
            raise UserError(
                f"entry {name} looks like a zip bomb: {info.compress_size:,} bytes would unpack to "
                f"{_mb(info.file_size)}, more than {limits.max_entry_ratio:g} times its compressed size",
                status=413,
            )


def _check_no_overlap(infos: list[zipfile.ZipInfo], zip_path: Path, central_directory: int) -> None:
    """Refuse entries whose bytes overlap another entry's (CVE-2024-0450, not checked by 3.11.7).

    Overlapping entries let a tiny archive reuse one compressed blob many times over. Sorted by
    header offset, each entry's local header, name, extra field and compressed data must end before
    the next entry's header (or the central directory) begins. The local header is read from the file
    because its name and extra lengths may differ from the central directory's.
    """
    ordered = sorted(infos, key=attrgetter("header_offset"))
    next_starts = [info.header_offset for info in ordered[1:]] + [central_directory]
    with open(zip_path, "rb") as raw:
        for info, next_start in zip(ordered, next_starts):
            name = _quoted(info.orig_filename)
            header = b""
            if info.header_offset >= 0:
                raw.seek(info.header_offset)
                header = raw.read(LOCAL_HEADER.size)
            if len(header) != LOCAL_HEADER.size or not header.startswith(ZIP_MAGICS[0]):
                raise UserError(f"entry {name} is damaged: its local header is missing")
            name_length, extra_length = LOCAL_HEADER.unpack(header)[-2:]
            data_start = info.header_offset + LOCAL_HEADER.size + name_length + extra_length
            if data_start + info.compress_size > next_start:
                raise UserError(
                    f"entry {name} overlaps another entry in the archive "
                    "(overlapping entries are a zip bomb technique, CVE-2024-0450)"
                )


def _unpack_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, parts: list[str], destination: _Destination
) -> None:
    """Decompress one file, refusing it if more comes out than its header declared.

    zipfile happens to truncate at the declared size itself (and then fails the CRC check), but the
    limits must not depend on that detail, so the output is counted independently here.
    """
    name = info.orig_filename
    try:
        with archive.open(info) as source, destination.create_file(parts, name) as out:
            copied = _copy_at_most(source, out, info.file_size)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise UserError(f"entry {_quoted(name)} is damaged and cannot be unpacked ({exc})") from exc
    if copied > info.file_size:
        raise UserError(
            f"entry {_quoted(name)} holds more data than the {info.file_size:,} bytes its header declares",
            status=413,
        )


def _copy_at_most(source: BinaryIO, out: BinaryIO, allowance: int) -> int:
    """Copy until `source` ends or one byte past `allowance`; return the number of bytes copied.

    Reading a single byte beyond the allowance is enough to prove an overrun without ever reading,
    or writing, much more than the limit.
    """
    copied = 0
    while copied <= allowance:
        chunk = source.read(min(COPY_CHUNK, allowance + 1 - copied))
        if not chunk:
            break
        out.write(chunk)
        copied += len(chunk)
    return copied


def _read_package_json(manifest: Path) -> dict:
    try:
        package = json.loads(manifest.read_bytes())
    except json.JSONDecodeError as exc:
        raise UserError(
            f"package.json is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            status=422,
        ) from exc
    except UnicodeDecodeError as exc:
        raise UserError(
            f"package.json is not valid UTF-8 text ({exc.reason} at byte {exc.start})", status=422
        ) from exc
    if not isinstance(package, dict):
        raise UserError(
            f"package.json must contain a JSON object, but it contains {_json_kind(package)}", status=422
        )
    return package


def _json_kind(value: object) -> str:
    kinds = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    return kinds.get(type(value), "null")


def _names_folder(name: str) -> bool:
    return name.endswith("/")


def _collision(name: str) -> UserError:
    return UserError(
        f"entry {_quoted(name)} collides with another entry "
        "(names that differ only in letter case are the same file here)"
    )


def _unused_name(taken: set[str]) -> str:
    suffix = 0
    while f".unwrap-{suffix}" in taken:
        suffix += 1
    return f".unwrap-{suffix}"


def _quoted(name: str) -> str:
    """The name as a Python literal, so control characters show up escaped; long names are cut."""
    return repr(name) if len(name) <= 120 else repr(name[:120]) + "..."


def _mb(size: int) -> str:
    return f"{size / MIB:,.1f} MB"
