"""Tests for workers.build.archive: every refusal has the right status, an informative message, and leaves
nothing behind — neither in the destination nor next to it.

Hostile archives are built in tmp_path with zipfile, and where zipfile refuses to write something
(NUL in names, lying sizes, overlapping entries, encryption flags) by patching bytes afterwards.
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from workers.build.archive import ArchiveLimits, detect_project, extract_zip, strip_common_root, write_files
from workers.errors import UserError

MIB = 1024 * 1024


@dataclass
class Sandbox:
    """tmp_path laid out as an upload, an empty destination, and a sibling folder that path-traversal
    attempts aim at and that must stay empty."""

    root: Path

    @property
    def upload(self) -> Path:
        return self.root / "upload.zip"

    @property
    def dest(self) -> Path:
        return self.root / "dest"

    @property
    def outside(self) -> Path:
        return self.root / "outside"

    def assert_contained(self) -> None:
        assert list(self.outside.iterdir()) == []
        assert {p.name for p in self.root.iterdir()} <= {"upload.zip", "dest", "outside"}

    def assert_refused(self, call, status: int, *fragments: str) -> UserError:
        with pytest.raises(UserError) as caught:
            call()
        error = caught.value
        assert error.status == status, str(error)
        for fragment in fragments:
            assert fragment in str(error)
        assert list(self.dest.iterdir()) == [], "a refused upload must not leave files in dest"
        self.assert_contained()
        return error

    def refuse_zip(
        self, status: int, *fragments: str, limits: ArchiveLimits = ArchiveLimits()
    ) -> UserError:
        return self.assert_refused(partial(extract_zip, self.upload, self.dest, limits), status, *fragments)


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    sandbox = Sandbox(tmp_path)
    sandbox.dest.mkdir()
    sandbox.outside.mkdir()
    return sandbox


def make_zip(target: Path | io.BytesIO, entries, compression: int = zipfile.ZIP_DEFLATED) -> None:
    """entries: (name or ZipInfo, data) pairs, written in order."""
    with zipfile.ZipFile(target, "w", compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)


CENTRAL_FIELDS = {  # offset inside a central directory record, struct format
    "flag_bits": (8, "<H"),
    "CRC": (16, "<L"),
    "compress_size": (20, "<L"),
    "file_size": (24, "<L"),
    "header_offset": (42, "<L"),
}


def patch_central_directory(path: Path, name: str, **fields: int) -> None:
    """Overwrite fields of one entry's central directory record, the record zipfile trusts."""
    data = bytearray(path.read_bytes())
    end = data.rindex(b"PK\x05\x06")
    position = struct.unpack_from("<L", data, end + 16)[0]
    while data[position : position + 4] == b"PK\x01\x02":
        name_length, extra_length, comment_length = struct.unpack_from("<3H", data, position + 28)
        if data[position + 46 : position + 46 + name_length] == name.encode():
            for field, value in fields.items():
                offset, fmt = CENTRAL_FIELDS[field]
                struct.pack_into(fmt, data, position + offset, value)
            path.write_bytes(data)
            return
        position += 46 + name_length + extra_length + comment_length
    raise AssertionError(f"{name} not in the central directory")


def special_entry(name: str, file_type: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix, so the mode bits are meaningful
    info.external_attr = (file_type | 0o777) << 16
    return info


PROJECT = [
    ("package.json", json.dumps({"dependencies": {"react": "^18.3.1"}})),
    ("index.html", "<!doctype html><div id=root></div>"),
    ("src/", b""),
    ("src/main.tsx", "import React from 'react'"),
    ("public/empty/", b""),
]


# --- the error type -----------------------------------------------------------------------------


def test_archive_error_carries_a_status_and_defaults_to_400() -> None:
    assert UserError("bad entry").status == 400
    error = UserError("too big", status=413)
    assert (error.status, str(error)) == (413, "too big")
    assert isinstance(error, ValueError)


# --- a normal upload -----------------------------------------------------------------------------


def test_normal_project_extracts_with_fixed_permissions(box: Sandbox) -> None:
    risky_modes = zipfile.ZipInfo("bin/run.sh")
    risky_modes.create_system = 3
    risky_modes.external_attr = (stat.S_IFREG | stat.S_ISUID | 0o777) << 16
    make_zip(box.upload, [*PROJECT, (risky_modes, "#!/bin/sh\n")])

    written = extract_zip(box.upload, box.dest)

    assert written == ["package.json", "index.html", "src/main.tsx", "bin/run.sh"]
    assert (box.dest / "src/main.tsx").read_text() == "import React from 'react'"
    assert (box.dest / "public/empty").is_dir()
    for path in box.dest.rglob("*"):
        expected = 0o755 if path.is_dir() else 0o644
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
    assert detect_project(box.dest) == "react"
    box.assert_contained()


def test_folder_wrapped_zip_is_unwrapped_even_with_a_child_named_like_the_folder(box: Sandbox) -> None:
    make_zip(
        box.upload,
        [
            ("my-site/", b""),
            ("my-site/package.json", '{"name": "my-site"}'),
            ("my-site/src/main.ts", "console.log(1)"),
            ("my-site/my-site/notes.txt", "same name as the wrapper"),
        ],
    )
    extract_zip(box.upload, box.dest)

    strip_common_root(box.dest)

    assert sorted(p.relative_to(box.dest).as_posix() for p in box.dest.rglob("*")) == [
        "my-site",
        "my-site/notes.txt",
        "package.json",
        "src",
        "src/main.ts",
    ]
    assert detect_project(box.dest) == "node"
    box.assert_contained()


@pytest.mark.parametrize("top_level", [["a/", "b/"], ["a/", "index.html"], ["index.html"]])
def test_strip_common_root_leaves_anything_but_a_lone_folder_alone(box: Sandbox, top_level) -> None:
    for name in top_level:
        if name.endswith("/"):
            (box.dest / name).mkdir()
        else:
            (box.dest / name).write_text("x")

    strip_common_root(box.dest)

    assert sorted(p.name for p in box.dest.iterdir()) == sorted(n.rstrip("/") for n in top_level)


def test_destination_must_be_empty_and_is_left_untouched(box: Sandbox) -> None:
    make_zip(box.upload, PROJECT)
    (box.dest / "keep.txt").write_text("mine")

    with pytest.raises(ValueError, match="must be an empty directory") as caught:
        extract_zip(box.upload, box.dest)

    assert not isinstance(caught.value, UserError)  # a caller bug, not the user's
    assert [p.name for p in box.dest.iterdir()] == ["keep.txt"]


# --- not a zip, empty zip ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, this is a text file", b"\x1f\x8b\x08\x00 gzip data", b"PK\x03\x04 but then garbage"],
    ids=["empty-file", "text", "gzip", "zip-magic-then-garbage"],
)
def test_not_a_zip(box: Sandbox, content: bytes) -> None:
    box.upload.write_bytes(content)
    box.refuse_zip(415, "not a zip archive")


def test_zip_with_junk_in_front_is_not_accepted(box: Sandbox) -> None:
    """zipfile accepts data before the first entry (self-extractors); that is how polyglots pass."""
    make_zip(box.upload, PROJECT)
    box.upload.write_bytes(b"<script>alert(1)</script>" + box.upload.read_bytes())
    box.refuse_zip(415, "not a zip archive")


@pytest.mark.parametrize(
    "entries", [[], [("src/", b""), ("src/assets/", b"")]], ids=["no-entries", "only-folders"]
)
def test_empty_zip(box: Sandbox, entries) -> None:
    make_zip(box.upload, entries)
    box.refuse_zip(400, "the archive is empty")


# --- entry names ---------------------------------------------------------------------------------

BAD_NAMES = [
    ("../outside/evil.txt", "'..' component"),
    ("src/../../outside/evil.txt", "'..' component"),
    ("{outside}/evil.txt", "absolute path"),
    ("..\\outside\\evil.txt", "backslash"),
    ("src\\main.tsx", "backslash"),
    ("C:/evil.txt", "drive letter"),
    ("c:evil.txt", "drive letter"),
    ("src/a\x01b.txt", "control character"),
    ("src/\x1b[31mred.txt", "control character"),
    ("src/a\x7f.txt", "control character"),
    ("src/a\x85.txt", "control character"),
    ("a" * 1025, "longer than 1024 characters"),
    ("src/" + "é" * 128 + ".txt", "longer than 255 bytes"),
    ("", "empty name"),
    ("./", "empty path"),
]


def bad_name(template: str, box: Sandbox) -> str:
    return template.replace("{outside}", str(box.outside))


@pytest.mark.parametrize(("template", "reason"), BAD_NAMES, ids=[r for _, r in BAD_NAMES])
def test_zip_with_bad_entry_name(box: Sandbox, template: str, reason: str) -> None:
    name = bad_name(template, box)
    with zipfile.ZipFile(box.upload, "w") as archive:
        archive.writestr("package.json", "{}")
        with archive.open(zipfile.ZipInfo(name), "w") as entry:  # writestr can't write an empty name
            entry.write(b"pwned")

    error = box.refuse_zip(400, reason)

    if name:
        assert repr(name)[:60] in str(error)  # printable-escaped and named
    assert "\x01" not in str(error) and "\x1b" not in str(error)


def test_zip_with_nul_in_entry_name(box: Sandbox) -> None:
    """zipfile cuts ZipInfo.filename at a NUL, so 'a\\0b.txt' would pass as 'a'; the check must see
    orig_filename."""
    make_zip(box.upload, [("package.json", "{}"), ("src/aXb.txt", "pwned")])
    box.upload.write_bytes(box.upload.read_bytes().replace(b"src/aXb.txt", b"src/a\x00b.txt"))

    error = box.refuse_zip(400, "control character")

    assert repr("src/a\x00b.txt") in str(error)


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        ("src/a.txt", "src//a.txt", "same path as another entry"),
        ("src/a.txt", "src/./a.txt", "same path as another entry"),
        ("src/a.txt", "src/a.txt", "same path as another entry"),
        ("src", "src/", "same path as another entry"),
        ("src", "src/a.txt", "both a file and a folder"),
        ("src/a.txt", "src", "both a file and a folder"),
    ],
)
@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_zip_with_colliding_names(box: Sandbox, first: str, second: str, reason: str) -> None:
    make_zip(box.upload, [(first, "one"), (second, "two")])

    error = box.refuse_zip(400, reason)

    assert repr(second) in str(error)


def test_names_differing_only_in_case_are_different_files(box: Sandbox) -> None:
    make_zip(box.upload, [("README.md", "upper"), ("readme.md", "lower")])

    assert extract_zip(box.upload, box.dest) == ["README.md", "readme.md"]


# --- entry types, encryption, compression ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "file_type", "reason"),
    [
        ("link", stat.S_IFLNK, "a symbolic link"),
        ("link/", stat.S_IFLNK, "a symbolic link"),
        ("tty", stat.S_IFCHR, "a character device"),
        ("disk", stat.S_IFBLK, "a block device"),
        ("pipe", stat.S_IFIFO, "a FIFO"),
        ("sock", stat.S_IFSOCK, "a socket"),
        ("whiteout", 0o160000, "not a regular file"),
        ("folder-typed-file", stat.S_IFDIR, "not a regular file"),
        ("file-typed-folder/", stat.S_IFREG, "not a folder"),
    ],
)
def test_zip_with_special_entry_type(box: Sandbox, name: str, file_type: int, reason: str) -> None:
    make_zip(box.upload, [("package.json", "{}"), (special_entry(name, file_type), "../outside")])

    error = box.refuse_zip(400, reason, "only files and folders are accepted")

    assert repr(name) in str(error)


def test_zip_with_encrypted_entry(box: Sandbox) -> None:
    make_zip(box.upload, [("package.json", "{}"), ("secret.txt", "data")])
    flags = zipfile.ZipFile(box.upload).getinfo("secret.txt").flag_bits
    patch_central_directory(box.upload, "secret.txt", flag_bits=flags | 0x1)

    box.refuse_zip(400, "'secret.txt' is encrypted")


def test_zip_with_unsupported_compression(box: Sandbox) -> None:
    make_zip(box.upload, [("package.json", "{}")], compression=zipfile.ZIP_BZIP2)

    box.refuse_zip(415, "'package.json' uses compression method 12", "deflate")


# --- sizes and zip bombs --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zeros_bomb() -> bytes:
    """A real deflate stream: 64 MiB of zeros compresses to about 64 KB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.bin", "w") as entry:
            for _ in range(64):
                entry.write(bytes(MIB))
    return buffer.getvalue()


def test_real_deflate_bomb_is_refused_by_its_ratio(box: Sandbox, zeros_bomb: bytes) -> None:
    box.upload.write_bytes(zeros_bomb)

    box.refuse_zip(413, "'zeros.bin' looks like a zip bomb", "64.0 MB", "200 times")


def test_real_deflate_bomb_is_refused_by_total_with_small_limits(box: Sandbox, zeros_bomb: bytes) -> None:
    box.upload.write_bytes(zeros_bomb)
    limits = ArchiveLimits(max_total_bytes=16 * MIB, max_entry_ratio=10_000)

    box.refuse_zip(413, "unpacks to 64.0 MB, more than the 16.0 MB limit", limits=limits)


def test_well_compressing_small_file_is_not_a_bomb(box: Sandbox) -> None:
    """The ratio is only judged above 1 MiB: minified JS or an SVG may legitimately compress 1000x."""
    make_zip(box.upload, [("package.json", "{}"), ("zeros.bin", bytes(MIB))])

    assert extract_zip(box.upload, box.dest) == ["package.json", "zeros.bin"]
    assert (box.dest / "zeros.bin").stat().st_size == MIB


def test_declared_three_gib_is_refused_before_writing(box: Sandbox) -> None:
    make_zip(box.upload, [("package.json", "{}"), ("huge.bin", b"x" * 1000)])
    patch_central_directory(box.upload, "huge.bin", file_size=3 * 1024 * MIB)

    box.refuse_zip(413, "unpacks to 3,072.0 MB, more than the 1,024.0 MB limit")


def test_declared_total_over_limit_across_entries(box: Sandbox) -> None:
    noise = [(f"noise{i}.bin", os.urandom(MIB)) for i in range(3)]
    make_zip(box.upload, noise, compression=zipfile.ZIP_STORED)
    limits = ArchiveLimits(max_total_bytes=2 * MIB)

    box.refuse_zip(413, "unpacks to 3.0 MB, more than the 2.0 MB limit", limits=limits)


def test_entry_over_per_file_limit(box: Sandbox) -> None:
    make_zip(box.upload, [("package.json", "{}"), ("video.mp4", os.urandom(2 * MIB))])
    limits = ArchiveLimits(max_entry_bytes=MIB)

    box.refuse_zip(413, "'video.mp4' unpacks to 2.0 MB", "1.0 MB per-file limit", limits=limits)


def test_declared_size_smaller_than_the_data_is_refused_and_cleaned_up(box: Sandbox) -> None:
    """The header claims 100 bytes but the stream holds 100 KB. zipfile stops at the declared size and
    the CRC then fails; the file written before it must be removed again."""
    make_zip(box.upload, [("package.json", "{}"), ("liar.txt", b"a" * 100_000)])
    patch_central_directory(box.upload, "liar.txt", file_size=100)

    box.refuse_zip(400, "'liar.txt' is damaged", "CRC")


def test_lying_size_can_never_make_more_than_the_declared_bytes_come_out(box: Sandbox) -> None:
    """Even with a CRC forged to match, the output stops at the declared size, so declared totals bound
    what reaches the disk."""
    make_zip(box.upload, [("liar.txt", b"a" * 100_000)])
    patch_central_directory(box.upload, "liar.txt", file_size=100, CRC=zlib.crc32(b"a" * 100))

    extract_zip(box.upload, box.dest)

    assert (box.dest / "liar.txt").read_bytes() == b"a" * 100


def test_bytes_written_are_counted_without_trusting_the_zip_reader(box: Sandbox, monkeypatch) -> None:
    """If a reader ever yielded more than the header declares, the copy stops one byte past it."""
    make_zip(box.upload, [("package.json", "{}"), ("liar.txt", b"short")])

    honest_open = zipfile.ZipFile.open

    def overflowing_open(self, info, *args, **kwargs):
        if info.filename == "liar.txt":
            return io.BytesIO(b"x" * (info.file_size + 10 * MIB))
        return honest_open(self, info, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", overflowing_open)

    box.refuse_zip(413, "'liar.txt' holds more data than the 5 bytes its header declares")


# --- entry counts -------------------------------------------------------------------------------


def test_too_many_entries_with_a_small_limit(box: Sandbox) -> None:
    limits = ArchiveLimits(max_entries=5)
    make_zip(box.upload, [(f"f{i}.txt", "x") for i in range(5)])
    assert len(extract_zip(box.upload, box.dest, limits)) == 5
    for child in box.dest.iterdir():
        child.unlink()

    make_zip(box.upload, [(f"f{i}.txt", "x") for i in range(6)])

    box.refuse_zip(413, "6 entries, more than the 5 allowed", limits=limits)


def test_ten_thousand_and_one_entries_with_the_default_limit(box: Sandbox) -> None:
    make_zip(box.upload, [(f"f{i}.txt", "x") for i in range(10_001)], compression=zipfile.ZIP_STORED)

    box.refuse_zip(413, "10,001 entries, more than the 10,000 allowed")


# --- overlapping entries (CVE-2024-0450) ----------------------------------------------------------


def test_overlapping_entries(box: Sandbox) -> None:
    """'b.txt' is listed in the central directory but its bytes sit inside the data of 'a.bin'."""
    single = io.BytesIO()
    make_zip(single, [("b.txt", "hidden inside a.bin")], compression=zipfile.ZIP_STORED)
    b_record = single.getvalue()[: zipfile.ZipFile(single).start_dir]  # b.txt's local header + data
    make_zip(
        box.upload, [("a.bin", b_record), ("b.txt", "hidden inside a.bin")], compression=zipfile.ZIP_STORED
    )
    a_data_start = zipfile.ZipFile(box.upload).getinfo("a.bin").header_offset + 30 + len("a.bin")
    patch_central_directory(box.upload, "b.txt", header_offset=a_data_start)
    # Stock zipfile in 3.11.7 reads it happily:
    assert zipfile.ZipFile(box.upload).read("b.txt") == b"hidden inside a.bin"

    box.refuse_zip(400, "'a.bin' overlaps another entry", "CVE-2024-0450")


# --- the destination is only ever written inside --------------------------------------------------


def test_a_symlink_planted_in_dest_is_not_followed(box: Sandbox, monkeypatch) -> None:
    """Simulate something else swapping 'src' for a symlink to a folder outside dest mid-extraction."""
    make_zip(box.upload, [("package.json", "{}"), ("src/deep/evil.txt", "pwned")])
    real_mkdir = os.mkdir

    def planting_mkdir(path, mode=0o777):
        if Path(path).name == "src":
            os.symlink(box.outside, path)
        else:
            real_mkdir(path, mode)

    monkeypatch.setattr(os, "mkdir", planting_mkdir)

    box.refuse_zip(400, "'src/deep/evil.txt' would be written outside the upload folder")


# --- folder uploads -------------------------------------------------------------------------------


def test_write_files_writes_a_folder_upload(box: Sandbox) -> None:
    files = [
        ("my-site/package.json", io.BytesIO(b'{"devDependencies": {"react": "^18"}}')),
        ("my-site/src/main.tsx", io.BytesIO(b"export {}")),
        ("my-site/src/empty.css", io.BytesIO(b"")),
    ]

    written = write_files(files, box.dest)

    assert written == ["my-site/package.json", "my-site/src/main.tsx", "my-site/src/empty.css"]
    assert stat.S_IMODE((box.dest / "my-site/src").stat().st_mode) == 0o755
    assert stat.S_IMODE((box.dest / "my-site/src/main.tsx").stat().st_mode) == 0o644
    strip_common_root(box.dest)
    assert detect_project(box.dest) == "react"
    box.assert_contained()


@pytest.mark.parametrize(
    ("template", "reason"),
    [*BAD_NAMES, ("src/a\x00b.txt", "control character"), ("src/\ud800.txt", "invalid code point")],
    ids=[r for _, r in BAD_NAMES] + ["nul", "lone-surrogate"],
)
def test_write_files_with_bad_name(box: Sandbox, template: str, reason: str) -> None:
    name = bad_name(template, box)
    files = [("my-site/package.json", io.BytesIO(b"{}")), (name, io.BytesIO(b"pwned"))]

    error = box.assert_refused(lambda: write_files(files, box.dest), 400, reason)

    if name:
        assert repr(name)[:60] in str(error)


@pytest.mark.parametrize(
    ("names", "reason"),
    [
        (["a/b.txt", "a/b.txt"], "same path as another entry"),
        (["a/b.txt", "a//b.txt"], "same path as another entry"),
        (["a", "a/b.txt"], "both a file and a folder"),
        (["a/b.txt", "a"], "both a file and a folder"),
        (["a/"], "names a folder"),
    ],
)
def test_write_files_with_colliding_or_folder_names(box: Sandbox, names, reason: str) -> None:
    files = [(name, io.BytesIO(b"x")) for name in names]

    box.assert_refused(lambda: write_files(files, box.dest), 400, reason)


class EndlessZeros:
    """A stream that never ends; the writer must stop reading it, not exhaust it."""

    def __init__(self) -> None:
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        self.bytes_read += size
        return bytes(size)


def test_write_files_cuts_off_an_oversize_stream(box: Sandbox) -> None:
    stream = EndlessZeros()
    limits = ArchiveLimits(max_entry_bytes=MIB)

    box.assert_refused(
        lambda: write_files([("index.html", io.BytesIO(b"<p>")), ("big.bin", stream)], box.dest, limits),
        413,
        "'big.bin' is larger than the 1.0 MB per-file limit",
    )
    assert stream.bytes_read == MIB + 1


def test_write_files_accepts_a_file_exactly_at_the_limit(box: Sandbox) -> None:
    limits = ArchiveLimits(max_entry_bytes=1000)

    assert write_files([("index.html", io.BytesIO(b"x" * 1000))], box.dest, limits) == ["index.html"]


def test_write_files_enforces_the_total(box: Sandbox) -> None:
    limits = ArchiveLimits(max_total_bytes=3 * MIB // 2, max_entry_bytes=MIB)
    files = [("a.bin", io.BytesIO(bytes(MIB))), ("b.bin", io.BytesIO(bytes(MIB)))]

    box.assert_refused(
        lambda: write_files(files, box.dest, limits), 413, "the upload is larger than the 1.5 MB limit"
    )


def test_write_files_enforces_max_entries(box: Sandbox) -> None:
    files = ((f"f{i}.txt", io.BytesIO(b"x")) for i in range(4))

    box.assert_refused(
        lambda: write_files(files, box.dest, ArchiveLimits(max_entries=3)), 413, "more than 3 files"
    )


def test_write_files_with_nothing(box: Sandbox) -> None:
    box.assert_refused(lambda: write_files([], box.dest), 400, "the upload is empty")


# --- project detection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("package", "expected"),
    [
        ({"dependencies": {"react": "^18.3.1", "react-dom": "^18.3.1"}}, "react"),
        ({"devDependencies": {"react": "^18.3.1"}}, "react"),
        ({"name": "api", "dependencies": {"express": "^4"}}, "node"),
        ({"dependencies": {"react-dom": "^18"}}, "node"),
        ({"dependencies": "react-dom"}, "node"),
        ({}, "node"),
    ],
)
def test_detect_project_with_package_json(tmp_path: Path, package, expected: str) -> None:
    (tmp_path / "package.json").write_text(json.dumps(package))
    (tmp_path / "index.html").write_text("<p>")

    assert detect_project(tmp_path) == expected


def test_detect_static_site(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>hello</p>")

    assert detect_project(tmp_path) == "static"


def test_detect_project_with_neither(tmp_path: Path) -> None:
    (tmp_path / "my-site").mkdir()
    (tmp_path / "my-site" / "index.html").write_text("<p>")

    with pytest.raises(UserError) as caught:
        detect_project(tmp_path)

    assert caught.value.status == 422
    assert str(caught.value) == "no package.json or index.html at the top level of the upload"


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b'{\n  "name": "x",\n  "dependencies": {\n}', ["not valid JSON", "line 4, column 2"]),
        (b'{"name": "x",}', ["not valid JSON", "line 1, column 14"]),
        (b"", ["not valid JSON", "line 1, column 1"]),
        (b"[1, 2]", ["must contain a JSON object", "an array"]),
        (b'"react"', ["must contain a JSON object", "a string"]),
        (b"null", ["must contain a JSON object", "null"]),
        (b'{"name": "caf\xe9"}', ["not valid UTF-8"]),
    ],
    ids=["unclosed", "trailing-comma", "empty", "array", "string", "null", "latin-1"],
)
def test_detect_project_with_broken_package_json(tmp_path: Path, content: bytes, fragments) -> None:
    (tmp_path / "package.json").write_bytes(content)

    with pytest.raises(UserError) as caught:
        detect_project(tmp_path)

    assert caught.value.status == 422
    for fragment in fragments:
        assert fragment in str(caught.value)
