"""Publishing: what a build leaves in its output folder reaches the site only as plain files, within
the caps; dotfiles are neither published nor served; sites published before are cleaned once."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import stat
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers import job, make_user, queue_project
from tests.projects import static_site
from workers.build import publishing, sandbox, steps
from workers.config import settings
from workers.jobs import pipeline
from workers.queue.scheduler import claim_next_job
from workers.store.db import session_scope

WORKER_UID = os.geteuid()


def output_of_a_hostile_build(project: Path, victim: Path) -> Path:
    """dist/ as a hostile build could leave it, handed to the sandbox's user as a build's files are."""
    dist = project / "dist"
    for relative, text in {
        "index.html": "<h1>mine</h1>",
        "assets/app.js": "console.log(1)",
        "assets/.app.js.map": "{}",
        ".env": "SECRET=1",
        ".env.production": "SECRET=2",
        ".npmrc": "//registry.npmjs.org/:_authToken=abc",
        ".git/config": "[core]",
        ".well-known/security.txt": "Contact: me",
        ".well-known/.hidden": "x",
        "node_modules/pkg/index.js": "x",
        "docs/node_modules/pkg/index.js": "x",
        "tool.sh": "#!/bin/sh\n",
    }.items():
        (dist / relative).parent.mkdir(parents=True, exist_ok=True)
        (dist / relative).write_text(text)
    os.symlink(victim, dist / "stolen")
    os.symlink(victim / ".env", dist / "env.txt")
    os.symlink("/etc/passwd", dist / "assets" / "passwd.txt")
    os.mkfifo(dist / "pipe")
    sandbox.hand_over(project)
    shutil.copy("/bin/sh", dist / "x")  # `cp /bin/sh dist/x && chmod 4755 dist/x`
    os.chmod(dist / "x", 0o4755)
    os.chmod(dist / "tool.sh", 0o700)
    return dist


def collect(dist: Path, project: Path, check=lambda: None) -> tuple[Path, publishing.Published]:
    site = settings().sites_dir / "site"
    site.parent.mkdir(parents=True, exist_ok=True)
    return site, publishing.collect(dist, project, site, "unit-publish", check)


def tree(site: Path) -> dict[str, int]:
    """Relative path → mode (type and permission bits) of everything under `site`, links unfollowed."""
    return {str(p.relative_to(site)): os.lstat(p).st_mode for p in sorted(site.rglob("*"))}


def test_only_plain_files_and_folders_are_published_and_links_lead_nowhere(env, tmp_path):
    victim = static_site(tmp_path / "data" / "jobs" / "1" / "source", "Bob's page")
    (victim / ".env").write_text("BOB_SECRET=1")
    project = tmp_path / "project"
    site, published = collect(output_of_a_hostile_build(project, victim), project)

    files, folders = stat.S_IFREG, stat.S_IFDIR
    assert tree(site) == {
        ".well-known": folders | 0o755,
        ".well-known/security.txt": files | 0o644,
        "assets": folders | 0o755,
        "assets/app.js": files | 0o644,
        "docs": folders | 0o755,
        "index.html": files | 0o644,
        "tool.sh": files | 0o755,
        "x": files | 0o755,  # not set-id
    }
    assert all(os.lstat(p).st_uid == WORKER_UID for p in [site, *site.rglob("*")])
    assert (site / "x").read_bytes() == Path("/bin/sh").read_bytes()
    assert published.left_note() == (
        "left out of the site: .env (dotfile), .env.production (dotfile), .git (dotfile), .npmrc (dotfile), "
        ".well-known/.hidden (dotfile), assets/.app.js.map (dotfile), assets/passwd.txt (symlink), "
        "docs/node_modules (dependencies), env.txt (symlink), node_modules (dependencies), pipe (fifo), stolen (symlink)"
    )
    assert (published.files, published.bytes) == (5, sum(p.stat().st_size for p in site.rglob("*") if p.is_file()))


def test_the_collector_sees_nothing_but_the_project(env, tmp_path):
    """Even asked for a folder outside the build's project (as a link would lead it), it finds none."""
    outside = static_site(tmp_path / "data" / "jobs" / "1" / "source", "Bob's page")
    project = static_site(tmp_path / "project", "mine")
    sandbox.hand_over(project)
    assert sandbox.host().bwrap is not None, "bubblewrap must run here (scripts/bootstrap installs it)"
    with pytest.raises(publishing.SiteRefused, match="could not collect the build's output: .*No such file or directory"):
        collect(outside, project)
    assert not (settings().sites_dir / "site").exists()


def test_a_sparse_file_past_the_cap_fails_at_once(env, tmp_path):
    project = static_site(tmp_path / "project", "mine")
    (project / "big.bin").touch()
    os.truncate(project / "big.bin", 20 * 1024**3)  # `truncate -s 20G`: no disk used, 20 GB to read
    sandbox.hand_over(project)
    began = time.monotonic()
    with pytest.raises(publishing.SiteRefused, match=r"^site too large \(20480 MB, limit 200 MB\)$"):
        collect(project, project)
    assert time.monotonic() - began < 10
    assert not (settings().sites_dir / "site").exists(), "nothing of a refused site stays"


def test_bytes_and_entries_are_counted_over_the_whole_site(env, tmp_path, monkeypatch):
    project = static_site(tmp_path / "project", "mine")
    for n in range(3):
        (project / f"part{n}.bin").write_bytes(b"x" * 400 * 1024)
    sandbox.hand_over(project)
    monkeypatch.setenv("WEBBUILDER_MAX_SITE_MB", "1")
    with pytest.raises(publishing.SiteRefused, match=r"^site too large \(2 MB, limit 1 MB\)$"):
        collect(project, project)
    monkeypatch.setenv("WEBBUILDER_MAX_SITE_MB", "200")
    monkeypatch.setenv("WEBBUILDER_MAX_SITE_FILES", "3")
    with pytest.raises(publishing.SiteRefused, match=r"^site has too many files \(more than 3 files and folders\)$"):
        collect(project, project)
    monkeypatch.setenv("WEBBUILDER_MAX_SITE_FILES", "4")
    site, published = collect(project, project)
    assert sorted(p.name for p in site.iterdir()) == ["index.html", "part0.bin", "part1.bin", "part2.bin"]


def test_a_publish_stops_when_the_build_must(env, tmp_path):
    """The check (deadline, cancel, lease) runs while the copy waits for data; when it raises, the
    collector is killed and nothing is published."""
    project = static_site(tmp_path / "project", "mine")
    (project / "big.bin").write_bytes(os.urandom(8 * 1024 * 1024))
    sandbox.hand_over(project)
    checks = []

    def check() -> None:
        checks.append(1)
        if len(checks) == 3:
            raise steps.Stopped("cancelled")

    with pytest.raises(steps.Stopped):
        collect(project, project, check)
    assert not (settings().sites_dir / "site").exists()
    leftovers = subprocess.run(["pgrep", "-f", str(project)], capture_output=True, text=True).stdout
    assert leftovers == "", "the collector is gone"


@pytest.mark.parametrize(
    "records",
    [
        [b'{"kind": "file", "path": "../escape.txt", "size": 1, "exec": false}\nx'],
        [b'{"kind": "file", "path": "a/../../escape.txt", "size": 1, "exec": false}\nx'],
        [b'{"kind": "file", "path": "/etc/escape.txt", "size": 1, "exec": false}\nx'],
        [b'{"kind": "file", "path": ".env", "size": 1, "exec": false}\nx'],
        [b'{"kind": "dir", "path": "node_modules"}\n'],
        [b'{"kind": "file", "path": "undeclared/f.txt", "size": 1, "exec": false}\nx'],
        [b'{"kind": "file", "path": "f.txt", "size": 1, "exec": false}\nx', b'{"kind": "file", "path": "f.txt", "size": 1, "exec": false}\nx'],
        [b'{"kind": "file", "path": "f.txt", "size": 10, "exec": false}\nshort'],
        [b'{"kind": "file", "path": "f.txt", "size": -1, "exec": false}\n'],
        [b'{"kind": "link", "path": "f.txt", "target": "/etc/passwd"}\n'],
        [b"not json\n"],
        [b'{"kind": "dir", "path": "' + b"a" * 70_000],
    ],
    ids=["dot-dot", "nested-dot-dot", "absolute", "dotfile", "node-modules", "undeclared-folder", "twice",
         "truncated", "negative-size", "link", "not-json", "endless-header"],
)
def test_the_worker_believes_nothing_else_the_stream_says(env, tmp_path, records):
    """What the worker does if the collector were subverted: refuse, and write nowhere but the site."""
    stream_file = tmp_path / "stream"
    stream_file.write_bytes(b"".join(records))
    site = tmp_path / "sites" / "site"
    site.parent.mkdir()
    with open(stream_file, "rb") as stream:
        with pytest.raises(publishing.SiteRefused, match="could not collect the build's output"):
            publishing._receive(publishing._Stream(stream.fileno(), lambda: None), publishing._Site(site))
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "sites" / "escape.txt").exists()
    assert not Path("/etc/escape.txt").exists()


@pytest.mark.parametrize("link", ["dist", "dist/index.html"])
def test_the_output_folder_must_be_a_real_folder_in_the_project(tmp_path, link):
    victim = static_site(tmp_path / "victim", "Bob's page")
    project = tmp_path / "project"
    project.mkdir()
    if link == "dist/index.html":
        (project / "dist").mkdir()
    os.symlink(victim if link == "dist" else victim / "index.html", project / link)
    with pytest.raises(steps.StepFailed, match=f"^{link} is a symbolic link: the output must be a real folder in the project$"):
        steps._output_folder(project)


def test_publishing_renews_the_lease(env, tmp_path, monkeypatch):
    """A publish longer than the lease (30 s) must not hand the job to another worker: the lease is
    renewed while the copy runs, as during a build step."""
    user = make_user()
    project = static_site(tmp_path / "static", "mine")
    (project / "big.bin").write_bytes(os.urandom(4 * 1024 * 1024))  # read in pieces of 64 KiB (a pipe's buffer)
    job_id = queue_project(user, project)
    renewed_in = []
    renew = pipeline.renew_lease

    def renew_and_note(session, renewed_job, worker_id):
        renewed_in.append(session.get(pipeline.BuildJob, renewed_job).current_step)
        return renew(session, renewed_job, worker_id)

    monkeypatch.setattr(pipeline, "renew_lease", renew_and_note)
    monkeypatch.setattr(pipeline, "FLUSH_SECONDS", 0)
    with session_scope() as session:
        claim_next_job(session, "test-worker")
    pipeline.run_job(job_id, "test-worker")
    assert job(job_id).status == "completed", job(job_id).error
    assert renewed_in.count("publish") >= 3, renewed_in


# --- the site server ---------------------------------------------------------------------------------


def get(app, host: str, path: str) -> tuple[int, bytes]:
    """One request straight to the ASGI app: the path exactly as given (an HTTP client would
    normalise `..` away)."""
    sent = []
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": b"", "headers": [(b"host", host.encode())], "scheme": "http", "http_version": "1.1",
             "server": ("testserver", 80), "client": ("127.0.0.1", 1)}

    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected until the answer is sent

    async def send(message):
        sent.append(message)

    # In a thread of its own: in the whole suite, Playwright's sync API keeps a loop running on this one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, app(scope, receive, send)).result()
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_the_site_server_refuses_dot_paths_even_when_the_file_exists(env):
    from webbuilder_app.previews import with_previews

    slug = "0123456789abcdef0123"
    site = settings().sites_dir / slug
    for relative in (".env", ".git/config", "assets/.map", ".well-known/security.txt", ".well-known/.hidden", "index.html", "a/b.txt"):
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_text(f"content of {relative}")
    app = with_previews(lambda scope, receive, send: None)
    host = f"{slug}.localhost:3000"
    for path in ("/.env", "/.git/config", "/.git/", "/assets/.map", "/.well-known/.hidden", "/a/../.env", "/./index.html", "/a/%2e%2e/.env"):
        assert get(app, host, path) == (404, b"Not Found"), path
    assert get(app, host, "/.well-known/security.txt") == (200, b"content of .well-known/security.txt")
    assert get(app, host, "/a/b.txt") == (200, b"content of a/b.txt")


# --- sites published before --------------------------------------------------------------------------


def test_the_sweep_cleans_sites_published_before_once(env, tmp_path, caplog):
    sites = settings().sites_dir
    old = sites / "0123456789abcdef0123"
    for relative in (".env", ".git/HEAD", ".well-known/security.txt", "assets/.map", "assets/app.js", "index.html", "node_modules/x.js"):
        (old / relative).parent.mkdir(parents=True, exist_ok=True)
        (old / relative).write_text("x")
    os.symlink("/etc/passwd", old / "passwd.txt")
    shutil.copy("/bin/sh", old / "x")
    os.chmod(old / "x", 0o4755)
    os.chmod(old / "index.html", 0o666)
    staging = sites / ".tmp-fedcba9876543210fedc"  # a publish in progress is left alone
    (staging / ".env").parent.mkdir(parents=True)
    (staging / ".env").write_text("x")
    twin = sites / "fedcba9876543210fedc"  # a build-cache copy: hard links to the same files
    shutil.copytree(old, twin, copy_function=os.link, symlinks=True)
    expected = {".well-known": 0o40755, ".well-known/security.txt": 0o100644, "assets": 0o40755,
                "assets/app.js": 0o100644, "index.html": 0o100644, "x": 0o100755}

    with caplog.at_level(logging.INFO, logger="workers.build.publishing"):
        publishing.sweep_published()
    assert tree(old) == expected and tree(twin) == expected
    assert (staging / ".env").exists()
    assert "swept 2 published site(s): removed 10 dotfile(s), link(s) or special file(s)" in caplog.text
    assert "removed .env from published site 0123456789abcdef0123" in caplog.text

    (old / ".env").write_text("published after the sweep? (cannot happen any more)")
    caplog.clear()
    publishing.sweep_published()  # the next worker start: done already
    assert (old / ".env").exists() and "swept" not in caplog.text
    assert sorted(p.name for p in sites.iterdir()) == sorted([publishing.SWEEP_MARKER, old.name, twin.name, staging.name])
