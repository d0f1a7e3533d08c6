"""Storage used is what the user's sources and sites take on disk, each inode once, though it is summed
from the database: checked against a walk of the disk after uploads, a real build, a build-cache hit
(a hard-linked site) and a retry (a hard-linked source)."""

from __future__ import annotations

import os

from sqlmodel import select

from tests.helpers import build_next, job, make_user, queue_project
from tests.projects import static_site
from workers.build.disk_budget import tree_bytes
from workers.config import settings
from workers.jobs import lifecycle as jobs
from workers.jobs import quotas
from workers.store import files
from workers.store.db import session_scope
from workers.store.models import BuildJob


def on_disk(user_id: int) -> tuple[int, int]:
    """(bytes with each inode once, bytes counting every link) of the user's sources and sites."""
    with session_scope() as session:
        rows = session.exec(select(BuildJob.id, BuildJob.site_slug).where(BuildJob.user_id == user_id)).all()
    folders = [files.source_dir(job_id) for job_id, _ in rows] + [settings().sites_dir / slug for _, slug in rows if slug]
    seen, unique, every_link = set(), 0, 0
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                stat = path.stat()
                every_link += stat.st_size
                if (stat.st_dev, stat.st_ino) not in seen:
                    seen.add((stat.st_dev, stat.st_ino))
                    unique += stat.st_size
    return unique, every_link


def used(user_id: int) -> int:
    with session_scope() as session:
        return quotas.storage_used(session, user_id)


def site(tmp_path, name: str, text: str, noise: int):
    folder = static_site(tmp_path / name, text)
    (folder / "noise.bin").write_bytes(os.urandom(noise))
    return folder


def test_storage_used_counts_hard_linked_sources_and_sites_once(env, tmp_path):
    alice, bob = make_user("alice"), make_user("bob")
    first_files = site(tmp_path, "a", "first", 50_000)
    first = queue_project(alice, first_files)
    assert used(alice) == on_disk(alice)[0] > 50_000
    build_next()  # publishes a copy of the site: its bytes count too
    assert job(first).site_bytes > 50_000
    assert used(alice) == on_disk(alice)[0]

    hit = queue_project(alice, first_files, "Same files")  # answered with a hard-linked copy of the site
    assert job(hit).build_cache == "hit"
    failing = queue_project(alice, site(tmp_path, "b", "second", 30_000))
    with session_scope() as session:
        jobs.cancel(session, alice, failing)
    with session_scope() as session:
        retried = jobs.retry(session, alice, failing).id
    assert os.path.samefile(files.source_dir(retried) / "noise.bin", files.source_dir(failing) / "noise.bin")

    unique, every_link = on_disk(alice)
    assert every_link > unique  # hard links are there
    assert used(alice) == unique
    assert used(bob) == 0


def test_the_storage_figure_of_an_upload_is_its_files_sizes(tmp_path):
    folder = site(tmp_path, "s", "sizes", 12_345)
    (folder / "deep" / "er").mkdir(parents=True)
    (folder / "deep" / "er" / "x.txt").write_bytes(b"x" * 100)
    assert tree_bytes(folder) == 12_345 + 100 + len((folder / "index.html").read_bytes())
    assert tree_bytes(tmp_path / "missing") == 0
