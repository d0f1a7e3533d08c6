"""A React project whose package.json has no build script is still built: with `vite build`."""

from __future__ import annotations

import json

from tests.helpers import build_next, job, make_user, queue_project
from tests.projects import FIXTURE, react_project


def test_project_without_a_build_script_is_built_with_vite(env, tmp_path):
    package = json.loads((FIXTURE / "package.json").read_text())
    del package["scripts"]
    project = react_project(tmp_path / "site", **{"package.json": json.dumps(package, indent=2)})
    job_id = queue_project(make_user(), project)

    assert build_next() == job_id
    done = job(job_id)
    assert done.status == "completed", done.error
    assert done.steps["build"]["status"] == "done"
    assert "$ vite build" in done.logs
    assert "npm run build" not in done.logs and 'build script "' not in done.logs
    site = tmp_path / "data" / "sites" / done.site_slug
    assert (site / "index.html").is_file()
    assert any(site.joinpath("assets").glob("*.js"))  # vite's bundle, not the uploaded index.html alone
