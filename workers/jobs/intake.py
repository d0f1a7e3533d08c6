"""From an upload to a queued job: stage the files, validate them, then submit.

Uploads are unpacked into a staging folder first, so a refused upload leaves no website, no job and no
files behind. Used by the HTTP API and the Reflex upload alike.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO, Iterator

from workers.build.archive import detect_project, extract_zip, strip_common_root, write_files
from workers.config import settings
from workers.errors import UploadTooLarge, UserError
from workers.jobs import quotas
from workers.jobs.lifecycle import Deployment, Submitted, after_submit, queue_position, submit
from workers.store.db import session_scope

CHUNK = 1024 * 1024


MULTIPART_FRAMING_BYTES = 1024 * 1024  # boundaries and part headers on top of the files


def request_limit() -> int:
    """The most bytes an upload request may carry: the size limit plus the multipart framing."""
    return settings().max_upload_bytes + MULTIPART_FRAMING_BYTES


@contextmanager
def staging_area() -> Iterator[Path]:
    """A private folder under the data dir (not Reflex's public upload dir), removed afterwards."""
    folder = settings().data_dir / "staging" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def copy_limited(stream: BinaryIO, target: Path, budget: int) -> int:
    """Copy in chunks, refusing as soon as more than `budget` bytes arrive."""
    written = 0
    with open(target, "wb") as out:
        while chunk := stream.read(CHUNK):
            written += len(chunk)
            if written > budget:
                raise UploadTooLarge(settings().max_upload_mb)
            out.write(chunk)
    return written


def is_zip_upload(files: list[tuple[str, BinaryIO]]) -> bool:
    return len(files) == 1 and files[0][0].lower().endswith(".zip")


def unpack(files: list[tuple[str, BinaryIO]], staging: Path) -> tuple[Path, str]:
    """Validate and unpack a zip, or the files of a folder, into `staging/source`."""
    if not files:
        raise UserError("no files were uploaded")
    source = staging / "source"
    source.mkdir()
    if is_zip_upload(files):
        archive = staging / "upload.zip"
        copy_limited(files[0][1], archive, settings().max_upload_bytes)
        extract_zip(archive, source)
        archive.unlink()
    else:
        write_files(files, source)
    strip_common_root(source)
    return source, detect_project(source)


def accept(user_id: int, name: str, files: Iterable[tuple[str, BinaryIO]], priority: int = 0, deployment: Deployment | None = None) -> Submitted:
    """The whole intake; raises UserError / UserError (UserError among them) with an HTTP
    status for the caller. The counting quotas are checked before the files are read, storage once
    their unpacked size is known; a refusal leaves nothing behind (the staging folder goes)."""
    with session_scope() as session:
        quotas.check_upload_rate(session, user_id)
        quotas.check_active_builds(session, user_id)
    with staging_area() as staging:
        source, project_type = unpack(list(files), staging)
        with session_scope() as session:
            quotas.check_storage(session, user_id, source)
            submitted = submit(session, user_id, name, project_type, source, priority, deployment)
    after_submit(submitted.job)
    with session_scope() as session:  # a read: SQLite's write lock is already released
        return replace(submitted, queue_position=queue_position(session, submitted.job))
