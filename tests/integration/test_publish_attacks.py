"""Hostile builds against the publish step, uploaded as zips and built by a real worker process: a
site gets only the plain files its own build made, never another job's, never a set-id file, never
more than the cap, never a dotfile."""

from __future__ import annotations

import os
import stat

import pytest

from tests.conftest import wait_for
from tests.helpers import make_user
from tests.integration.test_worker_builds import finished, submit_zip
from tests.projects import publish_js, scripted_project, static_site
from workers.build import sandbox
from workers.config import settings

pytestmark = pytest.mark.integration


def shell(command: str) -> str:
    """build.mjs code that writes dist/index.html, then runs `command` as the build's shell would
    (argv[2] of `node build.mjs ARG` is `$1`)."""
    return (publish_js("'attacker'") + "import { execFileSync } from 'node:child_process'\n"
            f"execFileSync('sh', ['-c', {command!r}, 'sh', ...process.argv.slice(2)], {{ stdio: 'inherit' }})\n")


def site_of(done) -> dict[str, os.stat_result]:
    site = settings().sites_dir / done.site_slug
    return {str(p.relative_to(site)): os.lstat(p) for p in sorted(site.rglob("*"))}


def ended(job_id: int):
    return wait_for(lambda: finished(job_id), timeout=180, what=f"job {job_id}")


def test_hostile_outputs_publish_nothing_but_their_own_plain_files(env, tmp_path, processes):
    processes.worker(env)
    bob = make_user("bob")
    victim_folder = static_site(tmp_path / "victim", "Bob's page")
    (victim_folder / ".env").write_text("BOB_SECRET=hunter2")
    victim = ended(submit_zip(bob, victim_folder, "Bob's site"))
    assert victim.status == "completed", victim.error
    bobs_upload = str(settings().jobs_dir / str(victim.id) / "source")

    mallory = make_user("mallory")
    attacks = {
        name: submit_zip(mallory, scripted_project(tmp_path / name, script, bobs_upload), name)
        for name, script in {
            # the job ids count up and the log shows the data dir: another job's upload is easy to name
            "dist-is-a-link": "import fs from 'node:fs'\nfs.symlinkSync(process.argv[2], 'dist')\n",
            "links-in-dist": shell('ln -s "$1" dist/stolen && ln -s "$1/.env" dist/env.txt && ln -s /etc/passwd dist/passwd.txt'),
            "setuid-and-fifo": shell("cp /bin/sh dist/x && chmod 4755 dist/x && mkfifo dist/pipe"),
            "sparse-1g": shell("truncate -s 1G dist/big.bin"),
        }.items()
    }
    results = {name: ended(job_id) for name, job_id in attacks.items()}

    linked = results["dist-is-a-link"]
    assert linked.status == "failed"
    assert linked.error == "build: dist is a symbolic link: the output must be a real folder in the project"
    assert linked.site_slug is None

    links = results["links-in-dist"]
    assert links.status == "completed", links.error
    assert list(site_of(links)) == ["index.html"]
    assert "left out of the site: env.txt (symlink), passwd.txt (symlink), stolen (symlink)" in links.logs

    setuid = results["setuid-and-fifo"]
    assert setuid.status == "completed", setuid.error
    published = site_of(setuid)
    assert list(published) == ["index.html", "x"]
    assert stat.S_IMODE(published["x"].st_mode) == 0o755, "never set-id"
    assert published["x"].st_uid == os.geteuid() != sandbox.SANDBOX_UID, "owned by the worker, not the build"
    assert "left out of the site: pipe (fifo)" in setuid.logs

    sparse = results["sparse-1g"]
    assert sparse.status == "failed"
    assert sparse.error == "publish: site too large (1024 MB, limit 200 MB)"
    assert sparse.attempts == 1 and sparse.steps["publish"]["seconds"] < 5
    assert sparse.site_slug is None and not any(p.name.startswith(".tmp-") for p in settings().sites_dir.iterdir())

    every_site = [p for p in settings().sites_dir.rglob("*") if p.is_file()]
    assert not [p for p in every_site if b"BOB_SECRET" in p.read_bytes()], "Bob's .env is on no site, his own included"


def test_dotfiles_are_left_out_and_named_in_the_log(env, tmp_path, processes):
    processes.worker(env)
    folder = static_site(tmp_path / "static", "dotted")
    for relative in (".env", ".env.local", ".npmrc", ".git/config", ".well-known/security.txt", "assets/.map", "assets/app.js"):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(f"content of {relative}")
    done = ended(submit_zip(make_user(), folder, "Dotted"))
    assert done.status == "completed", done.error
    assert list(site_of(done)) == [".well-known", ".well-known/security.txt", "assets", "assets/app.js", "index.html"]
    assert "left out of the site: .env (dotfile), .env.local (dotfile), .git (dotfile), .npmrc (dotfile), assets/.map (dotfile)" in done.logs
