"""The build caches a website's deployment hands on to the next: what is kept and restored, and what
a hostile build's files cannot make the worker do (follow links, copy host files, keep set-id bits,
fill the disk, hang on a FIFO, reach another website's cache)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from workers.build.website_cache import WebsiteCache, expire_tsc_state, forget

VITE_STATE = "node_modules/.tmp/tsconfig.app.tsbuildinfo"


def built_project(root: Path) -> Path:
    """A build folder as a Vite + TypeScript build leaves it, with a package's own tsbuildinfo."""
    files = {
        "package-lock.json": '{"lockfileVersion": 3}',
        "tsconfig.json": '{"files": [], "references": [{"path": "./tsconfig.app.json"}]}',
        "src/App.tsx": "export const App = () => null\n",
        VITE_STATE: '{"version": "5.9.3", "fileInfos": []}',
        "tsconfig.node.tsbuildinfo": '{"version": "5.9.3"}',
        "node_modules/.vite/deps/react.js": "export default {}\n",
        "node_modules/.cache/babel/abc.json.gz": "cached",
        ".next/cache/webpack/pack": "pack",
        "node_modules/react/index.js": "module.exports = {}\n",
        "node_modules/some-lib/tsconfig.tsbuildinfo": '{"shipped": "by the package"}',
        "dist/index.html": "<h1>site</h1>",
    }
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def kept_files(cache: WebsiteCache) -> set[str]:
    base = cache.folder / "files"
    return {str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()}


def test_a_deployment_restores_the_state_and_caches_the_last_one_kept(tmp_path):
    cache = WebsiteCache(tmp_path / "cache" / "websites" / "1")
    kept = cache.save(built_project(tmp_path / "v1"), tsc_writes_files=False)
    assert kept.refused is None and kept.files == 5
    # Packages' own files, sources and outputs are not build caches.
    assert kept_files(cache) == {VITE_STATE, "tsconfig.node.tsbuildinfo", "node_modules/.vite/deps/react.js",
                                 "node_modules/.cache/babel/abc.json.gz", ".next/cache/webpack/pack"}

    fresh = tmp_path / "v2"
    (fresh / "src").mkdir(parents=True)
    (fresh / "src/App.tsx").write_text("export const App = () => 1\n")
    (fresh / "tsconfig.json").write_text('{"files": [], "references": [{"path": "./tsconfig.app.json"}]}')
    (fresh / "package-lock.json").write_text('{"lockfileVersion": 3}')
    (fresh / ".next/cache/webpack").mkdir(parents=True)
    (fresh / ".next/cache/webpack/pack").write_text("the upload's own")
    restored = cache.restore(fresh, owner=None)
    assert (restored.files, restored.tsc_writes_files) == (4, False)
    assert (fresh / VITE_STATE).read_text() == '{"version": "5.9.3", "fileInfos": []}'
    assert (fresh / "node_modules/.vite/deps/react.js").is_file()
    assert (fresh / ".next/cache/webpack/pack").read_text() == "the upload's own"  # never overwritten

    # What the last deployment's tsc -b did is known only while the tsconfig files are the same.
    (fresh / "tsconfig.app.json").write_text('{"compilerOptions": {"composite": true}}')
    assert cache.restore(fresh, owner=None).tsc_writes_files is None


def test_a_new_deployment_replaces_what_the_last_one_kept(tmp_path):
    cache = WebsiteCache(tmp_path / "websites" / "1")
    cache.save(built_project(tmp_path / "v1"), tsc_writes_files=False)
    second = tmp_path / "v2"
    (second / "node_modules/.vite").mkdir(parents=True)
    (second / "node_modules/.vite/only-this.js").write_text("v2")
    cache.save(second, tsc_writes_files=None)
    assert kept_files(cache) == {"node_modules/.vite/only-this.js"}
    assert sorted(p.name for p in cache.folder.parent.iterdir()) == [".lock", "1"]  # no copy left behind
    forget(cache.folder)
    assert cache.restore(tmp_path / "v3", owner=None) is None


def test_websites_never_see_each_others_caches(tmp_path):
    WebsiteCache(tmp_path / "websites" / "1").save(built_project(tmp_path / "one"), tsc_writes_files=False)
    assert WebsiteCache(tmp_path / "websites" / "2").restore(tmp_path / "two", owner=None) is None


def test_the_state_of_a_type_check_that_writes_files_is_not_kept(tmp_path):
    """Restored without the outputs, it would make tsc skip writing them again."""
    cache = WebsiteCache(tmp_path / "websites" / "1")
    cache.save(built_project(tmp_path / "v1"), tsc_writes_files=True)
    assert not any(name.endswith(".tsbuildinfo") for name in kept_files(cache))
    assert "node_modules/.vite/deps/react.js" in kept_files(cache)
    assert cache.restore(built_project(tmp_path / "v2"), owner=None).tsc_writes_files is True


def test_links_and_special_files_a_build_leaves_are_not_followed(tmp_path):
    secret = tmp_path / "host" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("host secret")
    (tmp_path / "host" / ".tmp").mkdir()
    (tmp_path / "host" / ".tmp" / "x.tsbuildinfo").write_text("host file")
    (tmp_path / "host" / "cache").mkdir()
    (tmp_path / "host" / "cache" / "pack").write_text("host file")
    project = tmp_path / "v1"
    (project / "node_modules/.cache").mkdir(parents=True)
    (project / "node_modules/.cache/stolen").symlink_to(secret)
    (project / "node_modules/.cache/linked").hardlink_to(secret)  # its contents are the build's to read anyway
    os.mkfifo(project / "node_modules/.cache/fifo")  # opening it for reading would block
    (project / "node_modules/.vite").symlink_to(tmp_path / "host")
    (project / ".next").symlink_to(tmp_path / "host")  # .next/cache would be the host's folder
    (project / "sub").mkdir()
    (project / "sub/node_modules").symlink_to(tmp_path / "host")
    (project / "app.tsbuildinfo").symlink_to(secret)

    cache = WebsiteCache(tmp_path / "websites" / "1")
    assert cache.save(project, tsc_writes_files=False).refused is None
    assert kept_files(cache) == {"node_modules/.cache/linked"}
    copy = cache.folder / "files/node_modules/.cache/linked"
    assert copy.stat().st_ino != secret.stat().st_ino  # a copy, not a link into the build folder

    # A restore does not write through a link the new build folder holds.
    target = tmp_path / "v2"
    (target / "node_modules").mkdir(parents=True)
    (target / "node_modules/.cache").symlink_to(tmp_path / "host")
    assert cache.restore(target, owner=None).files == 0
    assert sorted(p.name for p in (tmp_path / "host").iterdir()) == [".tmp", "cache", "secret.txt"]


def test_modes_are_normalised_and_never_set_id(tmp_path):
    project = tmp_path / "v1"
    tool = project / "node_modules/.cache/tool"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o6777)
    (project / "node_modules/.cache/data").write_text("x")
    (project / "node_modules/.cache/data").chmod(0o666)
    (project / "node_modules/.cache").chmod(0o777)
    cache = WebsiteCache(tmp_path / "websites" / "1")
    cache.save(project, tsc_writes_files=None)
    owner = (65534, 65534) if os.geteuid() == 0 else None
    fresh = tmp_path / "v2"
    fresh.mkdir()
    cache.restore(fresh, owner=owner)
    for root in (cache.folder / "files", fresh):
        assert stat.S_IMODE((root / "node_modules/.cache/tool").stat().st_mode) == 0o755
        assert stat.S_IMODE((root / "node_modules/.cache/data").stat().st_mode) == 0o644
        assert stat.S_IMODE((root / "node_modules/.cache").stat().st_mode) == 0o755
    if owner:  # the sandboxed build can replace what was restored
        for path in ("node_modules", "node_modules/.cache", "node_modules/.cache/tool"):
            assert (fresh / path).stat().st_uid == 65534


def test_a_cache_over_the_cap_is_not_kept(tmp_path):
    cache = WebsiteCache(tmp_path / "websites" / "1", max_bytes=1000, max_files=10)
    cache.save(built_project(tmp_path / "v1"), tsc_writes_files=False)
    big = tmp_path / "v2"
    (big / "node_modules/.cache").mkdir(parents=True)
    (big / "node_modules/.cache/blob").write_bytes(b"x" * 1001)
    kept = cache.save(big, tsc_writes_files=False)
    assert kept.refused and "not kept" in kept.refused
    assert cache.restore(tmp_path / "v3", owner=None) is None  # nor is the older copy used

    many = tmp_path / "v4"
    (many / ".parcel-cache").mkdir(parents=True)
    for n in range(11):
        (many / f".parcel-cache/{n}").write_text("x")
    assert cache.save(many, tsc_writes_files=False).refused


@pytest.mark.parametrize("where", [VITE_STATE, "tsconfig.tsbuildinfo", "packages/app/tsconfig.tsbuildinfo"])
def test_every_tsbuildinfo_is_made_older_than_any_source(tmp_path, where):
    project = built_project(tmp_path / "v1")
    (project / where).parent.mkdir(parents=True, exist_ok=True)
    (project / where).write_text("{}")
    assert expire_tsc_state(project) >= 1
    assert (project / where).stat().st_mtime == 0
    assert (project / "node_modules/some-lib/tsconfig.tsbuildinfo").stat().st_mtime > 0  # a package's, untouched
