"""/metrics reports the queue, running builds, step durations, cache use and failures by cause."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import make_user, queue_project
from tests.projects import static_site
from webbuilder_app.api.app import create_api
from workers.ops.metrics import failure_cause
from workers.services import auth
from workers.store.db import session_scope
from workers.store.models import BuildJob, JobStatus, utcnow


def test_failure_causes_are_named():
    assert failure_cause("build: timed out after 600 s") == "timeout"
    assert failure_cause("install: out of memory (limit 1536 MB)") == "memory"
    assert failure_cause("the worker died 3 times while building this job") == "worker_died"
    assert failure_cause("typecheck: type check failed with 1 error(s)") == "typecheck"
    assert failure_cause(None) == "other"


def test_metrics_endpoint_reports_queue_and_finished_builds(env, tmp_path):
    user = make_user()
    # Distinct files: identical uploads would be answered by the build cache instead of queued.
    ids = [queue_project(user, static_site(tmp_path / f"s{i}", f"Site {i}"), f"Site {i}") for i in range(4)]
    with session_scope() as session:
        done, failed, building = (session.get(BuildJob, i) for i in ids[:3])
        for job in (done, failed):
            job.started_at, job.completed_at = utcnow(), utcnow()
        done.status = JobStatus.COMPLETED
        done.steps = {"install": {"seconds": 1.5, "cache": "hit"}, "build": {"seconds": 0.5}}
        failed.status, failed.error = JobStatus.FAILED, "install: npm ci failed: 404 no-such-package"
        failed.steps = {"install": {"seconds": 2.5, "cache": "miss"}}
        building.status = JobStatus.BUILDING

    make_user("root", admin=True)
    _admin, token = auth.sign_in("root", "password123")  # /metrics answers admins (tests/api/test_hardening.py)
    text = TestClient(create_api()).get("/metrics", headers={"Authorization": f"Bearer {token}"}).text

    assert "webbuilder_queue_depth 1.0" in text
    assert "webbuilder_builds_running 1.0" in text
    assert 'webbuilder_jobs_finished_total{status="completed"} 1.0' in text
    assert 'webbuilder_failures_total{cause="install"} 1.0' in text
    assert 'webbuilder_step_duration_seconds_count{step="install"} 2.0' in text
    assert 'webbuilder_step_duration_seconds_sum{step="install"} 4.0' in text
    assert 'webbuilder_cache_lookups_total{result="hit",step="install"} 1.0' in text
