"""Every hostile upload, hostile build and fault, run for real, with what the user gets back.

The tests prove each case; this report shows them side by side for a reader, in Markdown tables of
case | HTTP or job status | the message the user sees | what was checked. It runs, on a fresh
installation (temporary data dir, SQLite, an embedded Valkey):

- uploads: the refusal cases of tests/integration/test_upload_refusals.py, sent through the real HTTP
  API (create_api in-process), each checked to leave no website, job or file behind;
- builds: projects uploaded through the same API and built by a real worker process, with small
  limits where a case needs one (a 5 s timeout, 256 MB of memory, 64 processes, 64 MB of disk), builds
  aiming the publish step at what is not theirs (links, a set-id copy, a 20 GB sparse file, dotfiles),
  and projects aiming the install and the build at a listener on 127.0.0.1 (it must hear nothing);
- webhooks: URLs aimed at this machine and its networks, in many spellings, added through the same API
  while a receiver listens on 127.0.0.1 (it must hear nothing), and a test sent to a private receiver
  after the operator stopped allowing them;
- faults: one trial of each fault of bench/faults.py (its own installation and processes).

Written to bench/HOSTILE.md after a full run; exits 1 if a case was not as expected. Takes 5–7
minutes on 2 cores, most of it the faults.

    python -m bench.hostile [--only uploads,builds,webhooks,faults]
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from tests.api.conftest import auth, sign_up, upload_zip
from tests.conftest import wait_for
from tests.integration.test_faults import processes_with, slow_build
from tests.integration.test_install_egress import hostile_npmrc, with_package
from tests.integration.test_publish_attacks import shell
from tests.integration.test_upload_refusals import REFUSALS, UPLOAD, Refusal, rows
from tests.projects import (
    FORK_BOMB_JS,
    MEMORY_EATER_JS,
    NEVER_ENDING_JS,
    TYPE_ERROR_APP,
    publish_js,
    react_project,
    scripted_project,
    static_site,
    with_missing_dependency,
    zip_folder,
)
from tests.unit.test_egress_proxy import Listener
from tests.webhook_receiver import Receiver
from workers.build import sandbox
from workers.config import settings
from workers.store.models import TERMINAL_STATUSES, BuildJob, Website

from . import faults
from .environment import installation, valkey, worker

REPORT = Path(__file__).resolve().parent / "HOSTILE.md"
SECTIONS = ("uploads", "builds", "webhooks", "faults")
MESSAGE_CHARS = 120
# test_upload_refusals' cases are written against a 4 MB upload limit: the 3 MB zip bomb must get
# through to the archive checks, and its over-limit upload is 5 MB.
MAX_UPLOAD_MB = "4"
BUILD_TIMEOUT, BUILD_MEMORY_MB, BUILD_PIDS_MAX = 5, 256, 64
BUILD_DISK_MB, BUILD_TMP_MB = 64, 32
JOB_DEADLINE_SECONDS = 300  # a cold npm install of the react-ts sample on a busy machine
ABSOLUTE_TARGET = Path("/tmp/evil.txt")  # where the absolute-path case aims
MISSING_PACKAGE = "webbuilder-no-such-package-xyz"  # what tests.projects.with_missing_dependency adds

UPLOAD_TITLES = {
    "not-a-zip": "not a zip (a text file named site.zip)",
    "tar-named-zip": "tar with a hard link, named site.zip",
    "tar-with-hardlink": "tar with a hard link (zip has no hard-link entry)",
    "empty-zip": "empty zip",
    "dot-dot": "`..` entry (`../../evil.txt`)",
    "absolute": f"absolute path (`{ABSOLUTE_TARGET}`)",
    "backslash": "backslashes (`..\\..\\evil.txt`)",
    "drive-letter": "drive letter (`C:/evil.txt`)",
    "nul": "NUL in an entry name",
    "control": "control character (ESC) in an entry name",
    "symlink": "symlink entry (to /etc/passwd)",
    "device": "character device entry",
    "fifo": "FIFO entry",
    "zip-bomb-3-gib": "zip bomb: 3 × 1 GiB of zeros",
    "zip-bomb-ratio": "zip bomb: one 128 MiB entry of zeros",
    "too-many-entries": "10,002 entries",
    "over-upload-limit": f"upload over WEBBUILDER_MAX_UPLOAD_MB={MAX_UPLOAD_MB}",
    "no-project": "neither package.json nor index.html",
    "invalid-package-json": "invalid package.json",
    "folder-with-dot-dot": "folder upload with a `..` path",
    "folder-over-upload-limit": f"folder upload over WEBBUILDER_MAX_UPLOAD_MB={MAX_UPLOAD_MB}",
}

# Publishes a page, then tries to reach outside its own folder and says in the build log how each
# attempt went.
PROBE_JS = publish_js("'probe done'") + """const [otherUpload, otherSite, jobsFolder, dataFile] = process.argv.slice(2)
const attempts = {
  "read another job's upload": () => `${fs.readFileSync(otherUpload).length} bytes`,
  "overwrite another job's site": () => fs.writeFileSync(otherSite, 'pwned'),
  'list the jobs folder': () => fs.readdirSync(jobsFolder).join(' '),
  'write into /usr': () => fs.writeFileSync('/usr/pwned.txt', 'pwned'),
  'write into the data dir': () => fs.writeFileSync(dataFile, 'pwned'),
}
for (const [what, attempt] of Object.entries(attempts)) {
  try { console.log(`probe: ${what}: allowed ${attempt() ?? ''}`.trim()) } catch (error) { console.log(`probe: ${what}: refused (${error.code})`) }
}
"""


@dataclass(frozen=True)
class Check:
    what: str
    passed: bool


@dataclass(frozen=True)
class Row:
    case: str
    outcome: str  # the HTTP status, the job's status, or a fault trial's jobs
    message: str  # what the user is shown
    checked: str
    ok: bool

    @classmethod
    def judged(cls, case: str, outcome: str, message: str, checks: list[Check], when_all_pass: str = "") -> Row:
        """A row whose checked column lists the checks, failed ones marked (or says `when_all_pass`)."""
        ok = all(c.passed for c in checks)
        listed = "; ".join(c.what if c.passed else f"**NOT** {c.what}" for c in checks)
        return cls(case, outcome, message, when_all_pass if ok and when_all_pass else listed, ok)


def one_line(text: str | None) -> str:
    """Lines joined with ⏎, cut at MESSAGE_CHARS characters: what fits in a table cell."""
    joined = " ⏎ ".join(line.strip() for line in (text or "").splitlines() if line.strip())
    return joined if len(joined) <= MESSAGE_CHARS else joined[: MESSAGE_CHARS - 1] + "…"


# --- uploads ------------------------------------------------------------------------------------------


def footprint(workdir: Path) -> set[str]:
    """Every file of the installation (data dir and beside it) except the database's, and the
    absolute-path case's target."""
    files = {str(p) for p in workdir.rglob("*") if not p.is_dir() and not p.name.startswith("webbuilder.db")}
    return files | ({str(ABSOLUTE_TARGET)} if ABSOLUTE_TARGET.exists() else set())


def staging_empty() -> bool:
    staging = settings().data_dir / "staging"
    return not staging.exists() or not any(staging.iterdir())


def refuse(client: TestClient, token: str, workdir: Path, case: Refusal) -> Row:
    files = case.files()
    size = sum(len(content) for _, content in files)
    before, counts = footprint(workdir), (rows(Website), rows(BuildJob))
    parts = [("files", (name, content, "application/octet-stream")) for name, content in files]
    response = client.post(UPLOAD, headers=auth(token), data={"name": f"hostile {case.id}"}, files=parts)
    message = response.json().get("message", "")
    title = UPLOAD_TITLES.get(case.id, case.id) + (f", {size / 2**20:.1f} MB upload" if size >= 2**20 else "")
    checks = [
        Check("status and message as the test expects", response.status_code == case.status and case.says in message),
        Check("no website or job", (rows(Website), rows(BuildJob)) == counts),
        Check(f"no new file in the data dir, beside it or at {ABSOLUTE_TARGET}", footprint(workdir) == before),
        Check("staging empty", staging_empty()),
    ]
    return Row.judged(title, f"HTTP {response.status_code}", one_line(message), checks, when_all_pass="all four")


def upload_rows(client: TestClient, workdir: Path) -> list[Row]:
    print(f"uploads: {len(REFUSALS)} refusal cases through the API", flush=True)
    token = sign_up(client, "mallory")
    return [refuse(client, token, workdir, case) for case in REFUSALS]


# --- builds ---------------------------------------------------------------------------------------------


@dataclass
class Builds:
    """Uploads projects through the API as one user and reads their jobs back as that user sees them."""

    client: TestClient
    token: str
    folder: Path

    def submit(self, project: Path) -> int:
        archive = zip_folder(project, project.with_suffix(".zip"))
        return upload_zip(self.client, self.token, archive, project.name)["website"]["buildJobId"]

    def job(self, job_id: int) -> dict:
        return self.client.get(f"/api/website-builder/jobs/{job_id}", headers=auth(self.token)).json()

    def finished(self, job_id: int) -> dict:
        def ended() -> dict | None:
            view = self.job(job_id)
            return view if view["status"] in TERMINAL_STATUSES else None

        return wait_for(ended, timeout=JOB_DEADLINE_SECONDS, interval=0.2, what=f"job {job_id} to end")

    def project(self, name: str) -> Path:
        return self.folder / name


@contextmanager
def building(**limits: str) -> Iterator[None]:
    """A worker process of this installation with these settings (the API in this process sees them
    too, harmlessly); two threads, so two builds run side by side."""
    with mock.patch.dict(os.environ, limits), worker(threads=2) as proc:
        yield
        if proc.poll() is not None:
            raise SystemExit(f"the worker exited with {proc.returncode}; see {settings().data_dir.parent / 'worker.log'}")


def failed_with(view: dict, expected: str) -> Check:
    return Check(f"failed with “{expected}”", view["status"] == "failed" and expected in (view["error"] or ""))


def site_page(view: dict) -> Path:
    """The published index.html of a completed job; its preview URL is http://<slug>.<domain>/."""
    slug = view["previewUrl"].split("//", 1)[1].split(".", 1)[0]
    return settings().sites_dir / slug / "index.html"


def published(view: dict, text: str) -> bool:
    return view["status"] == "completed" and site_page(view).read_text() == text


def job_row(case: str, view: dict, *checks: Check, message: str | None = None) -> Row:
    shown = message if message is not None else one_line(view["error"])
    return Row.judged(case, f"job {view['status']}", shown, list(checks))


def default_limit_rows(builds: Builds) -> list[Row]:
    """Build errors and the sandbox probe, with the default limits."""
    victim = builds.finished(builds.submit(static_site(builds.project("victim"), "Bob's page")))
    cfg = settings()
    targets = [cfg.jobs_dir / str(victim["id"]) / "source" / "index.html", site_page(victim), cfg.jobs_dir, cfg.data_dir / "pwned.txt"]
    probe_id = builds.submit(scripted_project(builds.project("probe"), PROBE_JS, *map(str, targets)))
    typed_id = builds.submit(react_project(builds.project("type-error"), **{"src/App.tsx": TYPE_ERROR_APP}))
    missing_id = builds.submit(with_missing_dependency(builds.project("missing-dependency")))
    probe, typed, missing = (builds.finished(job_id) for job_id in (probe_id, typed_id, missing_id))
    said = [line.removeprefix("probe: ") for line in probe["logs"] if line.startswith("probe: ")]
    outcomes = dict(line.split(": ", 1) for line in said)
    details = [f"{d['file']}:{d['line']}:{d['column']} {d['code']} {d['message']}" for d in typed["errorDetails"]]
    return [
        job_row("TypeScript error (`const title: string = 42`)", typed, failed_with(typed, "type check failed"),
                Check(f"structured errors: {'; '.join(details)}", bool(details))),
        job_row("missing npm dependency", missing, failed_with(missing, "npm install failed"),
                Check("npm's text names the package", MISSING_PACKAGE in (missing["error"] or ""))),
        job_row("build script reads another job's folder and writes outside its own", probe,
                Check("the build completed (refusals are the sandbox's, not errors)", probe["status"] == "completed"),
                Check("another job's upload and site out of reach", all(
                    outcomes.get(what, "").startswith("refused") for what in ("read another job's upload", "overwrite another job's site"))),
                Check("the jobs folder shows only its own job", outcomes.get("list the jobs folder") == f"allowed {probe['id']}"),
                Check("/usr read-only", outcomes.get("write into /usr", "").startswith("refused") and not Path("/usr/pwned.txt").exists()),
                Check("no pwned.txt in the host's data dir (a write there lands in the sandbox's own /tmp when the data dir "
                      "is under /tmp, as here)", not (cfg.data_dir / "pwned.txt").exists()),
                Check("the other job's site unchanged", published(victim, (builds.project("victim") / "index.html").read_text())),
                message="log: " + " ⏎ ".join(said)),
    ]


def published_tree(view: dict) -> dict[str, os.stat_result]:
    site = site_page(view).parent
    return {str(p.relative_to(site)): os.lstat(p) for p in sorted(site.rglob("*"))}


def left_out_line(view: dict) -> str:
    return next((line for line in view["logs"] if "left out of the site" in line), "").removeprefix("[webbuilder] ")


def served(view: dict, path: str) -> int:
    """The site server's status for `path` of the job's site."""
    from starlette.testclient import TestClient as SiteClient

    from webbuilder_app.previews import with_previews

    host = view["previewUrl"].split("//", 1)[1].rstrip("/")
    client = SiteClient(with_previews(lambda scope, receive, send: None))  # only the site's host is asked
    return client.get(path, headers={"host": host}).status_code


def publish_rows(builds: Builds) -> list[Row]:
    """Builds that aim the publish step (the worker copying the output) at what is not theirs."""
    victim_folder = static_site(builds.project("bobs-site"), "Bob's page")
    (victim_folder / ".env").write_text("BOB_SECRET=hunter2")
    victim = builds.finished(builds.submit(victim_folder))
    upload = str(settings().jobs_dir / str(victim["id"]) / "source")
    dotted = static_site(builds.project("dotfiles"), "dotted")
    for relative in (".env", ".env.local", ".npmrc", ".git/config", ".well-known/security.txt", "assets/app.js"):
        (dotted / relative).parent.mkdir(parents=True, exist_ok=True)
        (dotted / relative).write_text(f"content of {relative}")
    submitted = [
        builds.submit(scripted_project(builds.project(name), script, upload)) for name, script in (
            ("dist-link", "import fs from 'node:fs'\nfs.symlinkSync(process.argv[2], 'dist')\n"),
            ("links-in-dist", shell('ln -s "$1" dist/stolen && ln -s "$1/.env" dist/env.txt && ln -s /etc/passwd dist/passwd.txt')),
            ("setuid", shell("cp /bin/sh dist/x && chmod 4755 dist/x && mkfifo dist/pipe")),
            ("sparse-20g", shell("truncate -s 20G dist/big.bin")),
        )
    ] + [builds.submit(dotted)]
    linked, links, setuid, sparse, dots = (builds.finished(job_id) for job_id in submitted)
    sites = [p for p in settings().sites_dir.rglob("*") if p.is_file()]
    bobs_secret_nowhere = Check("Bob's `.env` on no site, his own included", not [p for p in sites if b"BOB_SECRET" in p.read_bytes()])
    x = published_tree(setuid).get("x") if setuid["status"] == "completed" else None
    seconds = (datetime.fromisoformat(sparse["completedAt"]) - datetime.fromisoformat(sparse["startedAt"])).total_seconds()
    dots_published = list(published_tree(dots))
    (site_page(dots).parent / ".env").write_text("placed on disk after publishing")
    return [
        job_row("build links `dist` to another job's upload (`ln -s <data>/jobs/<id>/source dist`)", linked,
                failed_with(linked, "dist is a symbolic link"), bobs_secret_nowhere),
        job_row("links inside `dist/`: to another job's upload, its `.env`, `/etc/passwd`", links,
                Check("completed with its own index.html alone", links["status"] == "completed" and list(published_tree(links)) == ["index.html"]),
                bobs_secret_nowhere, message=left_out_line(links)),
        job_row("`cp /bin/sh dist/x && chmod 4755 dist/x`, and `mkfifo dist/pipe`", setuid,
                Check("x published 0755, not set-id", x is not None and stat.S_IMODE(x.st_mode) == 0o755),
                Check(f"owned by the worker (uid {os.geteuid()}), not the build's uid {sandbox.SANDBOX_UID}", x is not None and x.st_uid == os.geteuid()),
                Check("the FIFO left out", "pipe" not in published_tree(setuid)), message=left_out_line(setuid)),
        job_row("`truncate -s 20G dist/big.bin`", sparse,
                # each step's file size is capped (RLIMIT_FSIZE): truncate fails with EFBIG before publishing
                Check("refused in the build: disk limit (EFBIG)", sparse["status"] == "failed" and "disk limit (2048 MB)" in (sparse["error"] or "")),
                Check(f"in {seconds:.1f} s, one attempt", seconds < 10 and sparse["attempts"] == 1),
                Check("nothing published", sparse["previewUrl"] is None)),
        job_row("static upload with `.env`, `.env.local`, `.npmrc`, `.git/`, `.well-known/`", dots,
                Check("published without dotfiles but `.well-known/`", dots_published == [
                    ".well-known", ".well-known/security.txt", "assets", "assets/app.js", "index.html"]),
                Check("the site server answers 404 for `/.env` (a `.env` put on disk after publishing) and 200 for "
                      "`/.well-known/security.txt`", (served(dots, "/.env"), served(dots, "/.well-known/security.txt")) == (404, 200)),
                message=left_out_line(dots)),
    ]


def timeout_rows(builds: Builds) -> list[Row]:
    marker = f"wb-hang-{uuid.uuid4().hex}"
    hang = builds.finished(builds.submit(scripted_project(builds.project("hang"), NEVER_ENDING_JS, marker)))
    return [job_row(f"build that never ends (WEBBUILDER_BUILD_TIMEOUT={BUILD_TIMEOUT})", hang,
                    failed_with(hang, f"timed out after {BUILD_TIMEOUT} s"),
                    Check("no process of its tree left, the detached one included", not processes_with(marker)))]


def limit_rows(builds: Builds) -> list[Row]:
    """The memory eater and the fork bomb, each queued with a calm build that must not notice."""
    marker = f"wb-bomb-{uuid.uuid4().hex}"
    submitted = [
        builds.submit(scripted_project(builds.project("memory-eater"), MEMORY_EATER_JS)),
        builds.submit(scripted_project(builds.project("calm-1"), slow_build(1, "calm 1"))),
        builds.submit(scripted_project(builds.project("fork-bomb"), FORK_BOMB_JS, marker)),
        builds.submit(scripted_project(builds.project("calm-2"), slow_build(1, "calm 2"))),
    ]
    eater, calm_1, bomb, calm_2 = (builds.finished(job_id) for job_id in submitted)
    return [
        job_row(f"memory eater (WEBBUILDER_BUILD_MEMORY_MB={BUILD_MEMORY_MB})", eater,
                failed_with(eater, f"out of memory (limit {BUILD_MEMORY_MB} MB)"),
                Check("the build queued with it completed and published", published(calm_1, "calm 1"))),
        job_row(f"fork bomb (WEBBUILDER_BUILD_PIDS_MAX={BUILD_PIDS_MAX})", bomb,
                failed_with(bomb, f"too many processes (limit {BUILD_PIDS_MAX})"),
                Check("no process of the bomb left", not processes_with(marker)),
                Check("the build queued with it completed and published", published(calm_2, "calm 2"))),
    ]


def network_rows(builds: Builds) -> list[Row]:
    """Projects whose dependencies, settings and build aim at a service on the build host."""
    listener = Listener()
    here = f"http://127.0.0.1:{listener.port}"
    tarball = react_project(builds.project("tarball-dependency"), **{".npmrc": hostile_npmrc(listener.port)})
    with_package(tarball, lambda p: p["dependencies"].update(evil=f"{here}/x.tgz"))
    (tarball / "package-lock.json").unlink()
    git = react_project(builds.project("git-dependency"))
    with_package(git, lambda p: p["dependencies"].update(evil="github:mallory/evil"))
    locked = react_project(builds.project("lockfile-url"))
    lock = json.loads((locked / "package-lock.json").read_text())
    lock["packages"]["node_modules/react"]["resolved"] = f"{here}/react.tgz"
    (locked / "package-lock.json").write_text(json.dumps(lock, indent=2))
    npmrc = react_project(builds.project("npmrc-only"), **{".npmrc": hostile_npmrc(listener.port)})
    reach = (publish_js("'egress'") + "import { execSync } from 'node:child_process'\n"
             "const run = (c) => { try { return execSync(c, { encoding: 'utf8' }).trim() } catch (e) { return 'failed' } }\n"
             "console.log('probe: registry through the proxy:', run('npm view react@19.1.2 version --registry https://registry.npmjs.org/'))\n"
             f"console.log('probe: the listener through the proxy:', run('npm view x --registry {here}/'))\n"
             f"const socket = (await import('node:net')).connect({listener.port}, '127.0.0.1')\n"
             "await new Promise((done) => socket.on('connect', () => { console.log('probe: the listener directly: REACHED'); done() })"
             ".on('error', (e) => { console.log('probe: the listener directly:', e.code); done() }))\n")
    submitted = [builds.submit(p) for p in (tarball, git, locked, npmrc,
                                            scripted_project(builds.project("build-egress"), reach))]
    tarball_job, git_job, locked_job, npmrc_job, reach_job = (builds.finished(job_id) for job_id in submitted)
    listener.close()
    heard_nothing = Check(f"the listener on 127.0.0.1 heard {listener.accepted} connections", listener.accepted == 0)
    ignored = next((line for line in npmrc_job["logs"] if "ignored project settings" in line), "").removeprefix("[webbuilder] ")
    said = [line.removeprefix("probe: ") for line in reach_job["logs"] if line.startswith("probe: ")]
    refused_lines = [line for line in reach_job["logs"] if "network: refused" in line]
    return [
        job_row("dependency `http://127.0.0.1:PORT/x.tgz`, `.npmrc` registry/proxy at it", tarball_job,
                failed_with(tarball_job, "is a remote tarball (http://127.0.0.1:"), heard_nothing),
        job_row("dependency `github:mallory/evil`", git_job, failed_with(git_job, "is a git dependency (github:mallory/evil)")),
        job_row("lockfile `resolved` at `http://127.0.0.1:PORT/react.tgz`", locked_job,
                failed_with(locked_job, "package-lock.json resolves a package from http://127.0.0.1:"), heard_nothing),
        job_row("`.npmrc` sets registry, scoped registry, proxies, `noproxy=*`, `strict-ssl=false`", npmrc_job,
                Check("completed: `npm ci` through the egress proxy from the service's registry", npmrc_job["status"] == "completed"
                      and any("through the egress proxy" in line for line in npmrc_job["logs"])), heard_nothing, message=ignored),
        job_row("build (allowed `registry.npmjs.org`) calls the registry, the listener through the proxy, and the "
                "listener directly", reach_job,
                Check("the registry answered", "registry through the proxy: 19.1.2" in said),
                Check("the listener: refused by the proxy, and `ECONNREFUSED` directly (the sandbox's 127.0.0.1 is its own)",
                      "the listener through the proxy: failed" in said and "the listener directly: ECONNREFUSED" in said),
                Check("the refused destination named once in the log", len(refused_lines) == 1), heard_nothing,
                message="log: " + " ⏎ ".join([*said, *(line.removeprefix("[webbuilder] ") for line in refused_lines)])),
    ]


def disk_rows(builds: Builds) -> list[Row]:
    fill = shell("i=0; while [ $i -lt 64 ]; do head -c 4M /dev/zero > part-$i; i=$((i + 1)); done")
    tmp = shell("head -c 1G /dev/zero > /tmp/fill")
    filled, tmp_job = (builds.finished(builds.submit(scripted_project(builds.project(name), script)))
                       for name, script in (("disk-fill", fill), ("tmp-fill", tmp)))
    return [
        job_row(f"build writes 64 files of 4 MB (WEBBUILDER_BUILD_DISK_MB={BUILD_DISK_MB})", filled,
                failed_with(filled, f"disk limit ({BUILD_DISK_MB} MB)")),
        job_row(f"build writes 1 GB to `/tmp` (WEBBUILDER_BUILD_TMP_MB={BUILD_TMP_MB})", tmp_job,
                failed_with(tmp_job, f"out of space: /tmp holds {BUILD_TMP_MB} MB")),
    ]


GROUPS: list[tuple[str, dict[str, str], Callable[[Builds], list[Row]]]] = [
    ("default limits", {}, default_limit_rows),
    ("the default site caps", {}, publish_rows),
    ("build egress to registry.npmjs.org", {"WEBBUILDER_BUILD_EGRESS_ALLOW": "registry.npmjs.org"}, network_rows),
    (f"{BUILD_DISK_MB} MB of disk, {BUILD_TMP_MB} MB of /tmp",
     {"WEBBUILDER_BUILD_DISK_MB": str(BUILD_DISK_MB), "WEBBUILDER_BUILD_TMP_MB": str(BUILD_TMP_MB)}, disk_rows),
    (f"{BUILD_TIMEOUT} s timeout", {"WEBBUILDER_BUILD_TIMEOUT": str(BUILD_TIMEOUT)}, timeout_rows),
    (f"{BUILD_MEMORY_MB} MB, {BUILD_PIDS_MAX} processes",
     {"WEBBUILDER_BUILD_MEMORY_MB": str(BUILD_MEMORY_MB), "WEBBUILDER_BUILD_PIDS_MAX": str(BUILD_PIDS_MAX)}, limit_rows),
]


def build_rows(client: TestClient, workdir: Path) -> list[Row]:
    builds = Builds(client, sign_up(client, "builder"), workdir / "projects")
    builds.folder.mkdir()
    found = []
    for title, limits, run in GROUPS:
        print(f"builds: a worker with {title}", flush=True)
        with building(**limits):
            found += run(builds)
    return found


# --- webhooks --------------------------------------------------------------------------------------------

WEBHOOKS = "/api/website-builder/user/webhooks"
# Hosts a webhook might name to reach this machine or its networks; PORT is the local receiver's.
PRIVATE_HOSTS = [
    ("127.0.0.1:PORT", "loopback"),
    ("127.1:PORT", "loopback, short form"),
    ("2130706433:PORT", "loopback as one number"),
    ("0x7f.1:PORT", "loopback in hex"),
    ("0.0.0.0:PORT", "unspecified (Linux connects it to this host)"),
    ("[::1]:PORT", "IPv6 loopback"),
    ("[::ffff:127.0.0.1]:PORT", "IPv4-mapped IPv6 loopback"),
    ("localhost:PORT", "localhost"),
    ("site.localhost:PORT", "a *.localhost name (the sites' own domain)"),
    ("169.254.169.254", "cloud metadata service (link-local)"),
    ("10.0.0.1", "private network"),
    ("100.64.0.1", "CGNAT"),
    ("[fd00::1]", "IPv6 unique-local"),
]
PUBLIC_ONLY = "Webhooks call public addresses only: "


def webhook_rows(client: TestClient) -> list[Row]:
    print(f"webhooks: {len(PRIVATE_HOSTS)} private receivers through the API, one test sent after they were allowed", flush=True)
    token = sign_up(client, "eve")
    receiver = Receiver()
    port = str(urlsplit(receiver.url).port)

    def stored() -> list[dict]:
        return client.get(WEBHOOKS, headers=auth(token)).json()["webhooks"]

    found = []
    try:
        with mock.patch.dict(os.environ, {"WEBBUILDER_WEBHOOK_ALLOW_PRIVATE": "0"}):
            for host, title in PRIVATE_HOSTS:
                url = f"http://{host.replace('PORT', port)}/hook"
                answer = client.post(WEBHOOKS, headers=auth(token), json={"url": url})
                message = answer.json().get("message", "")
                checks = [Check("422 saying why", answer.status_code == 422 and message.startswith(PUBLIC_ONLY)),
                          Check("no webhook stored", stored() == []),
                          Check("the receiver on 127.0.0.1 heard nothing", not receiver.received)]
                found.append(Row.judged(f"webhook to {title} (`{url}`)", f"HTTP {answer.status_code}", one_line(message), checks,
                                        when_all_pass="all three"))
        with mock.patch.dict(os.environ, {"WEBBUILDER_WEBHOOK_ALLOW_PRIVATE": "1"}):
            webhook = client.post(WEBHOOKS, headers=auth(token), json={"url": receiver.url}).json()
        with mock.patch.dict(os.environ, {"WEBBUILDER_WEBHOOK_ALLOW_PRIVATE": "0"}):
            sent = client.post(f"{WEBHOOKS}/{webhook['id']}/test", headers=auth(token)).json()
        error = sent["delivery"]["error"] or ""
        found.append(Row.judged(
            "test sent to a 127.0.0.1 webhook added while WEBBUILDER_WEBHOOK_ALLOW_PRIVATE=1, after it was turned off",
            f"delivery {sent['delivery']['status']}", one_line(error),
            [Check("refused at send time", not sent["delivered"] and error.startswith("refused: ")),
             Check("the receiver heard nothing", not receiver.received)]))
    finally:
        receiver.close()
    return found


# --- faults ----------------------------------------------------------------------------------------------


def fault_rows() -> list[Row]:
    print("faults: one trial each (bench.faults)", flush=True)
    found = []
    for summary in faults.run(list(faults.FAULTS), trials=1):
        for result in summary.results:
            statuses = Counter(result.statuses.values())
            outcome = f"{len(result.statuses)} jobs: " + ", ".join(f"{n} {status}" for status, n in statuses.items())
            message = "; ".join([f"API during the fault: {result.during}", *result.causes])
            ok = result.ui_recovered and not result.duplicates and all(s in TERMINAL_STATUSES for s in result.statuses.values())
            found.append(Row(summary.fault.title, outcome, message, faults.describe(result), ok))
    return found


# --- the report ------------------------------------------------------------------------------------------


def code(text: str) -> str:
    """A table cell showing `text` verbatim (escapes stay escapes; a pipe cannot end the cell)."""
    if not text:
        return "—"
    fence = "`` " if "`" in text else "`"
    escaped = text.replace("|", "\\|")
    return f"{fence}{escaped}{fence[::-1]}"


def table(found: list[Row]) -> str:
    lines = ["| case | HTTP / job status | what the user sees | checked |", "|---|---|---|---|"]
    lines += [f"| {r.case} | {r.outcome} | {code(r.message)} | {r.checked} |" for r in found]
    return "\n".join(lines)


HEADINGS = {
    "uploads": "## Uploads (HTTP API, in-process)\n\nChecked after each: the status and message the test "
               "(tests/integration/test_upload_refusals.py) expects; no website or job created; no new file in the "
               f"data dir, beside it or at {ABSOLUTE_TARGET} (the absolute-path target); the staging folder empty again.",
    "builds": "## Builds (a real worker process, projects uploaded through the API)",
    "webhooks": "## Webhooks (HTTP API, in-process; private receivers not allowed, the default)",
    "faults": "## Faults (`bench.faults`, one trial each: 4 jobs, the fault hits while the first builds)",
}


def report(sections: dict[str, list[Row]], confinement: list[str]) -> str:
    one, five, _ = os.getloadavg()
    parts = [
        "# Hostile input and faults, as observed",
        f"Command: `{' '.join(['.venv/bin/python -m bench.hostile', *sys.argv[1:]])}`, "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average {one:.2f} / {five:.2f} at the end, {os.cpu_count()} CPUs. "
        f"Build confinement on this host: {'; '.join(confinement)} (the defaults; cases lower them where named). "
        f"What the user sees is the API's `message` (uploads, webhooks) or the job's or delivery's `error`, lines joined with ⏎ and cut at "
        f"{MESSAGE_CHARS} characters. A check that failed is marked **NOT**.",
        *(f"{HEADINGS[name]}\n\n{table(found)}" for name, found in sections.items()),
    ]
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated: " + ", ".join(SECTIONS))
    wanted = [name for name in SECTIONS if name in parser.parse_args().only.split(",")]
    sections: dict[str, list[Row]] = {}
    cfg = settings()
    confinement = sandbox.describe(cfg.build_memory_mb, cfg.build_pids_max, cfg.build_disk_mb)
    if {"uploads", "builds", "webhooks"} & set(wanted):
        from webbuilder_app.api.app import create_api

        with valkey() as redis_url, installation(redis_url, WEBBUILDER_MAX_UPLOAD_MB=MAX_UPLOAD_MB) as workdir:
            with TestClient(create_api()) as client:
                if "uploads" in wanted:
                    sections["uploads"] = upload_rows(client, workdir)
                if "builds" in wanted:
                    sections["builds"] = build_rows(client, workdir)
                if "webhooks" in wanted:
                    sections["webhooks"] = webhook_rows(client)
    if "faults" in wanted:
        sections["faults"] = fault_rows()
    text = report(sections, confinement)
    print("\n" + text)
    if wanted == list(SECTIONS):
        REPORT.write_text(text + "\n")
        print(f"\nwritten to {REPORT}")
    failing = [row.case for found in sections.values() for row in found if not row.ok]
    if failing:
        raise SystemExit(f"{len(failing)} case(s) not as expected: {'; '.join(failing)}")


if __name__ == "__main__":
    main()
