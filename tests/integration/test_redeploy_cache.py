"""Redeploys with a real worker: each deployment of a website restores the type checker's state and
the bundler's caches its last successful one kept, a stale cache never hides a type error, the type
check and vite run side by side once that is known to be safe, and a redeploy without cache reuses
nothing. Then the side-by-side run's endings, with stand-ins for tsc and vite built in this process:
a cancel and the deadline stop both, and each failure is reported as one after the other would."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path

import psutil
import pytest

from tests.conftest import wait_for
from tests.helpers import job, make_user
from tests.projects import TYPE_ERROR_APP, react_project, zip_folder
from workers.jobs import intake, lifecycle, views
from workers.jobs.pipeline import run_job
from workers.queue.scheduler import claim_next_job
from workers.services import builds
from workers.store.db import session_scope
from workers.store.files import website_cache_dir
from workers.store.models import User

pytestmark = pytest.mark.integration

FIXED_APP = """export function App() {
  const title: string = 'Fixed'
  return <h1>{title}</h1>
}
"""
OTHER_TYPE_ERROR_APP = """export function App() {
  const count: number = 'many'
  return <h1>{count}</h1>
}
"""
RESTORED = "build caches of the website's last deployment restored"


def deploy(user_id: int, folder, website_id: int | None = None) -> tuple[int, int]:
    """Upload a folder (to the website, if given); returns (website id, job id)."""
    archive = zip_folder(folder, folder.parent / f"{folder.name}.zip")
    with open(archive, "rb") as stream:
        submitted = intake.accept(user_id, "Shop", [(archive.name, stream)], deployment=lifecycle.Deployment(website_id=website_id))
    return submitted.website.id, submitted.job.id


def finished(user_id: int, job_id: int) -> dict:
    def ended():
        with session_scope() as session:
            view = views.job_detail(session, user_id, job_id)
            view["log"] = views.full_log(session, user_id, job_id)
        return view["status"] in ("completed", "failed", "cancelled") and view
    return wait_for(ended, timeout=240, what=f"job {job_id}")


def side_by_side(steps: dict) -> bool:
    """The build step started while the typecheck step ran (in its first half: one after the other,
    it starts a moment after the type check's end)."""
    check_began = datetime.fromisoformat(steps["typecheck"]["startedAt"])
    halfway = check_began + timedelta(seconds=steps["typecheck"]["seconds"] / 2)
    return datetime.fromisoformat(steps["build"]["startedAt"]) < halfway


def test_fix_then_break_still_fails_and_a_redeploy_without_cache_reuses_nothing(env, tmp_path, processes):
    processes.worker(env)
    user = make_user()

    website, first_id = deploy(user, react_project(tmp_path / "v1"))
    first = finished(user, first_id)
    assert first["status"] == "completed", first["error"]
    assert RESTORED not in first["log"]
    assert not side_by_side(first["steps"])  # what tsc -b writes is not known yet
    assert (website_cache_dir(website) / "files/node_modules/.tmp/tsconfig.app.tsbuildinfo").is_file()

    broken = finished(user, deploy(user, react_project(tmp_path / "v2", **{"src/App.tsx": TYPE_ERROR_APP}), website)[1])
    assert broken["status"] == "failed"
    assert RESTORED in broken["log"]
    assert broken["error"].startswith("typecheck: type check failed with 1 error(s)")
    assert [(e["file"], e["line"], e["code"]) for e in broken["errorDetails"]] == [("src/App.tsx", 2, "TS2322")]
    assert broken["steps"]["typecheck"]["status"] == "failed"
    assert broken["steps"]["build"]["status"] in ("done", "cancelled")  # vite ran alongside; stopped once tsc failed
    assert "publish" not in broken["steps"]

    fixed = finished(user, deploy(user, react_project(tmp_path / "v3", **{"src/App.tsx": FIXED_APP}), website)[1])
    assert fixed["status"] == "completed", fixed["error"]
    assert RESTORED in fixed["log"] and side_by_side(fixed["steps"])
    assert {fixed["steps"][name]["status"] for name in ("typecheck", "build", "publish")} == {"done"}

    # The state v3's passing check kept must not pass v4's error off as up to date.
    again = finished(user, deploy(user, react_project(tmp_path / "v4", **{"src/App.tsx": OTHER_TYPE_ERROR_APP}), website)[1])
    assert again["status"] == "failed"
    assert RESTORED in again["log"]
    assert [(e["file"], e["line"], e["code"]) for e in again["errorDetails"]] == [("src/App.tsx", 2, "TS2322")]

    with session_scope() as session:
        owner = session.get(User, user)
    clean = finished(user, builds.redeploy(owner, website).id)  # of the live deployment, v3
    assert clean["status"] == "completed", clean["error"]
    assert "redeploy without cache" in clean["log"] and RESTORED not in clean["log"]
    assert not side_by_side(clean["steps"])


# --- side by side, with stand-ins for tsc and vite (an npm package of the upload's own) -------------

FOREVER = "console.log('working')\nsetInterval(() => {}, 1000)\n"
PASSES = "process.exit(0)\n"
WRITES_SITE = "const fs = require('fs')\nfs.mkdirSync('dist')\nfs.writeFileSync('dist/index.html', '<h1>stand-in</h1>')\n"
TSC_ERROR = ("setTimeout(() => {\n  console.log(\"src/App.tsx(1,7): error TS2322: Type 'number' is not assignable to type 'string'.\")\n"
             "  process.exit(2)\n}, 500)\n")
TSC_PASSES_AFTER_2_S = "setTimeout(() => process.exit(0), 2000)\n"
VITE_FAILS = "console.error('error during build: the bundler failed on purpose')\nprocess.exit(1)\n"


def with_tools(target: Path, tsc_js: str, vite_js: str) -> Path:
    """A project whose `tsc && vite build` runs the given scripts as tsc and vite."""
    (target / "tools").mkdir(parents=True)
    (target / "package.json").write_text(json.dumps({
        "name": "stand-ins", "private": True, "version": "1.0.0", "scripts": {"build": "tsc && vite build"},
        "devDependencies": {"stand-in-tools": "file:./tools"}}))
    (target / "tsconfig.json").write_text('{"compilerOptions": {"strict": true}}')
    (target / "tools/package.json").write_text(json.dumps({"name": "stand-in-tools", "version": "1.0.0", "bin": {"tsc": "tsc.js", "vite": "vite.js"}}))
    for name, script in (("tsc.js", tsc_js), ("vite.js", vite_js)):
        (target / "tools" / name).write_text("#!/usr/bin/env node\n" + script)
    return target


def website_with_tools(user_id: int, tmp_path: Path) -> int:
    """A website whose last deployment showed its type check writes no files: the next ones run
    their type check beside vite."""
    website, first = deploy(user_id, with_tools(tmp_path / "first", PASSES, WRITES_SITE))
    start(first).join(timeout=60)
    assert job(first).status == "completed", job(first).error
    return website


def start(job_id: int) -> threading.Thread:
    """Claim the job and build it in a thread of this process, as a worker would."""
    with session_scope() as session:
        assert claim_next_job(session, "test-worker").id == job_id
    thread = threading.Thread(target=run_job, args=(job_id, "test-worker"))
    thread.start()
    return thread


def tools_running(data_dir: Path) -> set[str]:
    """Which of the stand-ins run now, for builds under `data_dir`."""
    names = set()
    for process in psutil.process_iter(["cmdline"]):
        for arg in process.info["cmdline"] or []:
            if arg.startswith(str(data_dir)) and arg.endswith(("/.bin/tsc", "/.bin/vite")):
                names.add(arg.rsplit("/", 1)[-1])
    return names


def test_a_cancel_or_the_deadline_stops_both_processes(env, tmp_path, monkeypatch):
    data = Path(env["WEBBUILDER_DATA_DIR"])
    user = make_user()
    website = website_with_tools(user, tmp_path)
    _, cancelled = deploy(user, with_tools(tmp_path / "cancel", FOREVER, FOREVER), website)
    thread = start(cancelled)
    wait_for(lambda: tools_running(data) == {"tsc", "vite"}, timeout=60, what="tsc and vite side by side")
    with session_scope() as session:
        lifecycle.cancel(session, user, cancelled)
    thread.join(timeout=10)
    assert not thread.is_alive() and not tools_running(data)
    ended = job(cancelled)
    assert ended.status == "cancelled"
    assert (ended.steps["typecheck"]["status"], ended.steps["build"]["status"]) == ("cancelled", "cancelled")

    monkeypatch.setenv("WEBBUILDER_BUILD_TIMEOUT", "6")
    _, timed_out = deploy(user, with_tools(tmp_path / "timeout", FOREVER, FOREVER), website)
    start(timed_out).join(timeout=30)
    assert not tools_running(data)
    assert job(timed_out).status == "failed" and job(timed_out).error == "typecheck: timed out after 6 s"


def test_a_type_error_fails_the_type_check_and_a_bundler_error_the_build(env, tmp_path):
    data = Path(env["WEBBUILDER_DATA_DIR"])
    user = make_user()
    website = website_with_tools(user, tmp_path)
    _, type_error = deploy(user, with_tools(tmp_path / "type-error", TSC_ERROR, FOREVER), website)
    start(type_error).join(timeout=60)
    failed = job(type_error)
    assert failed.status == "failed" and failed.error.startswith("typecheck: type check failed with 1 error(s)")
    assert [(e["file"], e["line"], e["code"]) for e in failed.error_details] == [("src/App.tsx", 1, "TS2322")]
    assert (failed.steps["typecheck"]["status"], failed.steps["build"]["status"]) == ("failed", "cancelled")
    assert not tools_running(data)

    # vite fails at once; the job still waits for the type check's verdict, as when one came after the other.
    _, bundler_error = deploy(user, with_tools(tmp_path / "bundler-error", TSC_PASSES_AFTER_2_S, VITE_FAILS), website)
    start(bundler_error).join(timeout=60)
    failed = job(bundler_error)
    assert failed.status == "failed"
    assert failed.error.startswith("build: vite build failed") and "the bundler failed on purpose" in failed.error
    assert (failed.steps["typecheck"]["status"], failed.steps["build"]["status"]) == ("done", "failed")
    assert failed.steps["build"]["seconds"] < 2 <= failed.steps["typecheck"]["seconds"]  # each timed to its own end
