"""The node_modules cache: hard-link restore, LRU eviction within its size bound, and safety when
builds share it (restores never lose their entry to eviction; concurrent stores of one key), also
while later build steps write into the node_modules being stored (the pipeline stores alongside them)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from workers.build.deps_cache import DependencyCache, Installed, key_for

KB = 1024


def project_with_modules(folder: Path, marker: str, size: int = KB) -> Path:
    modules = folder / "node_modules" / "pkg"
    modules.mkdir(parents=True)
    (modules / "index.js").write_text(marker.ljust(size, "x"))
    (folder / "node_modules" / ".bin").mkdir()
    (folder / "node_modules" / ".bin" / "pkg").symlink_to("../pkg/index.js")
    return folder


def installed(project: Path) -> Installed:
    return Installed.record(project / "node_modules")


def write_scratch(project: Path) -> None:
    """What `tsc -b` and vite leave in node_modules during a build."""
    (project / "node_modules/.tmp").mkdir()
    (project / "node_modules/.tmp/tsconfig.app.tsbuildinfo").write_text('{"version": "5.9.2"}')
    (project / "node_modules/.vite-temp").mkdir()


def set_last_used(cache: DependencyCache, digest: str, moment: float) -> None:
    os.utime(cache.root / digest / "used", (moment, moment))


def test_key_depends_on_lockfile_and_toolchain(tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    assert key_for(project, "node v20").reason == "no lockfile"
    (project / "package-lock.json").write_text('{"lockfileVersion": 3}')
    first = key_for(project, "node v20").digest
    assert first == key_for(project, "node v20").digest
    assert first != key_for(project, "node v22").digest
    (project / "package-lock.json").write_text('{"lockfileVersion": 3, "x": 1}')
    assert first != key_for(project, "node v20").digest


def test_restore_hard_links_what_was_stored(tmp_path):
    cache = DependencyCache(tmp_path / "cache", max_bytes=10 * KB)
    built = project_with_modules(tmp_path / "built", "react")
    assert cache.restore("a" * 64, tmp_path / "nothing") is False
    cache.store("a" * 64, installed(built))
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert cache.restore("a" * 64, fresh) is True
    assert os.path.samefile(fresh / "node_modules/pkg/index.js", built / "node_modules/pkg/index.js")
    assert os.readlink(fresh / "node_modules/.bin/pkg") == "../pkg/index.js"
    assert [e.size for e in cache.entries()] == [KB]


def test_least_recently_used_entries_are_evicted_past_the_bound(tmp_path):
    cache = DependencyCache(tmp_path / "cache", max_bytes=int(2.5 * KB))
    digests = ["a" * 64, "b" * 64, "c" * 64]
    for index, digest in enumerate(digests[:2]):
        cache.store(digest, installed(project_with_modules(tmp_path / f"p{index}", digest)))
    set_last_used(cache, digests[0], 2_000_000_000)  # "a" was restored recently, "b" long ago
    set_last_used(cache, digests[1], 1_000_000_000)
    cache.store(digests[2], installed(project_with_modules(tmp_path / "p2", digests[2])))
    assert sorted(e.digest for e in cache.entries()) == [digests[0], digests[2]]
    assert not any(p.name.startswith(".trash") for p in cache.root.iterdir())


def test_eviction_waits_for_a_restore_in_progress(tmp_path):
    cache = DependencyCache(tmp_path / "cache", max_bytes=10 * KB)
    cache.store("a" * 64, installed(project_with_modules(tmp_path / "p", "a", size=20 * KB)))  # alone: kept
    evicted: list[str] = []
    with cache._locked(exclusive=False):  # what a restore holds while it links
        evictor = threading.Thread(target=lambda: evicted.extend(cache.evict()))
        evictor.start()
        evictor.join(timeout=0.5)
        assert evictor.is_alive(), "eviction ran while a restore held the cache"
        assert (cache.root / ("a" * 64) / "node_modules").is_dir()
    evictor.join()
    assert evicted == ["a" * 64]


def test_concurrent_stores_of_one_key_leave_one_complete_entry(tmp_path):
    """Builds sharing a lockfile store at once, each while its type check writes scratch files."""
    cache = DependencyCache(tmp_path / "cache", max_bytes=100 * KB)
    projects = [project_with_modules(tmp_path / f"p{i}", "same") for i in range(4)]
    records = [installed(project) for project in projects]
    barrier = threading.Barrier(len(projects))

    def store(project: Path, record: Installed) -> None:
        barrier.wait()
        write_scratch(project)
        cache.store("d" * 64, record)

    threads = [threading.Thread(target=store, args=pair) for pair in zip(projects, records)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [e.digest for e in cache.entries()] == ["d" * 64]
    assert sorted(p.name for p in cache.root.iterdir()) == [".lock", "d" * 64]
    assert (cache.root / ("d" * 64) / "node_modules/pkg/index.js").read_text().startswith("same")
    assert sorted(p.name for p in (cache.root / ("d" * 64) / "node_modules").iterdir()) == [".bin", "pkg"]


def test_scratch_files_written_after_the_install_never_reach_the_cache(tmp_path):
    cache = DependencyCache(tmp_path / "cache", max_bytes=10 * KB)
    project = project_with_modules(tmp_path / "p", "react")
    record = installed(project)  # right after npm ci, before the type check
    write_scratch(project)
    assert cache.store("a" * 64, record) is True
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    cache.restore("a" * 64, fresh)
    assert sorted(p.name for p in (fresh / "node_modules").iterdir()) == [".bin", "pkg"]
    assert [e.size for e in cache.entries()] == [KB]


def test_node_modules_changed_after_the_install_is_not_cached(tmp_path):
    """A build step that swaps installed packages around must not get its tree shared."""
    cache = DependencyCache(tmp_path / "cache", max_bytes=10 * KB)
    project = project_with_modules(tmp_path / "p", "react")
    (project / "node_modules/other").mkdir()
    (project / "node_modules/other/index.js").write_text("other")
    record = installed(project)
    modules = project / "node_modules"
    os.rename(modules / "pkg", modules / "swap")
    os.rename(modules / "other", modules / "pkg")
    os.rename(modules / "swap", modules / "other")
    assert cache.store("a" * 64, record) is False
    assert cache.entries() == []
    assert sorted(p.name for p in cache.root.iterdir()) == [".lock"]
