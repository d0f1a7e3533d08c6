"""The build pipeline on small real projects: real npm, tsc and vite, run in this process."""

from __future__ import annotations

from tests.helpers import job, make_user, queue_project
from tests.projects import TYPE_ERROR_APP, react_project, static_site, with_missing_dependency
from workers.jobs.pipeline import run_job
from workers.queue.scheduler import claim_next_job
from workers.store.db import session_scope


def build(job_id: int) -> None:
    with session_scope() as session:
        claimed = claim_next_job(session, "test-worker")
        assert claimed is not None and claimed.id == job_id
    run_job(job_id, "test-worker")


def test_react_project_builds_and_publishes(env, tmp_path):
    user = make_user()
    job_id = queue_project(user, react_project(tmp_path / "site"))
    build(job_id)
    done = job(job_id)
    assert done.status == "completed", done.error
    assert done.progress == 100
    assert [name for name in done.steps] == ["extract", "install", "typecheck", "build", "publish"]
    assert all(step["status"] == "done" for step in done.steps.values())
    site = tmp_path / "data" / "sites" / done.site_slug
    assert (site / "index.html").is_file()
    assert any(site.joinpath("assets").glob("*.js"))
    assert done.preview_url.startswith(f"http://{done.site_slug}.localhost:")
    assert "vite" in done.logs


def test_second_build_of_same_lockfile_restores_dependencies_from_cache(env, tmp_path):
    user = make_user()
    first = queue_project(user, react_project(tmp_path / "one"))
    build(first)
    assert job(first).steps["install"]["cache"] == "miss"
    # Different source (else the build cache would answer), same lockfile.
    second = queue_project(user, react_project(tmp_path / "two", **{"src/extra.ts": "export const extra = 1\n"}))
    build(second)
    install = job(second).steps["install"]
    assert job(second).status == "completed"
    assert install["cache"] == "hit"


def test_cached_dependencies_hold_no_scratch_files_of_the_build_that_stored_them(env, tmp_path):
    """The cache entry is stored while the type check runs, and tsc -b writes its build info into
    node_modules/.tmp meanwhile: a later build restoring the entry must still check its own code."""
    user = make_user()
    first = queue_project(user, react_project(tmp_path / "one"))
    build(first)
    stored = tmp_path / "data" / "cache" / "deps" / job(first).steps["install"]["cacheKey"] / "node_modules"
    assert (stored / "react" / "package.json").is_file()
    assert not [p.name for p in stored.iterdir() if p.name in {".tmp", ".vite", ".vite-temp"}]
    second = queue_project(user, react_project(tmp_path / "two", **{"src/App.tsx": TYPE_ERROR_APP}))
    build(second)
    failed = job(second)
    assert failed.steps["install"]["cache"] == "hit"
    assert failed.status == "failed" and "TS2322" in failed.error


def test_type_error_fails_with_tsc_diagnostics(env, tmp_path):
    user = make_user()
    job_id = queue_project(user, react_project(tmp_path / "broken", **{"src/App.tsx": TYPE_ERROR_APP}))
    build(job_id)
    failed = job(job_id)
    assert failed.status == "failed"
    assert failed.error.startswith("typecheck: type check failed")
    assert "TS2322" in failed.error
    [detail] = failed.error_details
    assert detail["file"] == "src/App.tsx" and detail["line"] == 2 and detail["code"] == "TS2322"
    assert failed.steps["typecheck"]["status"] == "failed"


def test_missing_dependency_names_the_package(env, tmp_path):
    user = make_user()
    job_id = queue_project(user, with_missing_dependency(tmp_path / "nodep"))
    build(job_id)
    failed = job(job_id)
    assert failed.status == "failed"
    assert failed.error.startswith("install: npm install failed")
    assert "webbuilder-no-such-package-xyz" in failed.error


def test_static_site_is_published_as_uploaded(env, tmp_path):
    user = make_user()
    job_id = queue_project(user, static_site(tmp_path / "static", "Hello static"))
    build(job_id)
    done = job(job_id)
    assert done.status == "completed"
    assert done.steps["install"]["status"] == "skipped"
    assert "Hello static" in (tmp_path / "data" / "sites" / done.site_slug / "index.html").read_text()


def test_build_that_never_ends_times_out(env, tmp_path, monkeypatch):
    seconds = 2
    monkeypatch.setenv("WEBBUILDER_BUILD_TIMEOUT", str(seconds))
    user = make_user()
    project = react_project(tmp_path / "slow")
    (project / "package.json").write_text(
        (project / "package.json").read_text().replace('"tsc -b && vite build"', '"node -e \\"setInterval(() => {}, 1000)\\""')
    )
    job_id = queue_project(user, project)
    build(job_id)
    failed = job(job_id)
    assert failed.status == "failed"
    assert f"timed out after {seconds} s" in failed.error
