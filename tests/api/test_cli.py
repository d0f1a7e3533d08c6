"""The `webbuilder` command against a running API server and a real build worker."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import distinct_app, states_signed_in_as
from tests.projects import TYPE_ERROR_APP, react_project, static_site

pytestmark = pytest.mark.integration
WEBBUILDER = str(Path(sys.executable).parent / "webbuilder")


def run(args: list[str], extra_env: dict[str, str], stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, **extra_env, "COLUMNS": "200"}
    return subprocess.run([WEBBUILDER, *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout)


def test_admin_then_submit_wait_status_logs(env, live_api, processes, tmp_path):
    made = run(["admin", "create-user", "ci-bot", "--password-stdin"], env, stdin="password123\n")
    assert made.returncode == 0 and "created user ci-bot" in made.stderr
    token = run(["admin", "create-token", "ci-bot", "--name", "pipeline"], env)
    assert token.returncode == 0
    cli_env = {**env, "WEBBUILDER_URL": live_api.url, "WEBBUILDER_TOKEN": token.stdout.strip()}
    processes.worker(env)

    good = react_project(tmp_path / "good", **{"src/App.tsx": distinct_app("CliGood")})
    (good / "node_modules").mkdir()  # left out of the upload by the CLI
    (good / "node_modules" / "junk.js").write_text("x")
    built = run(["submit", str(good), "--name", "Good site", "--wait"], cli_env)
    assert built.returncode == 0, built.stderr
    assert re.fullmatch(r"http://[a-f0-9]{20}\.localhost:\d+/", built.stdout.strip()), built.stdout
    for step in ("install", "typecheck", "build", "publish"):
        assert f": {step}" in built.stderr, built.stderr
    assert "✓ built Good site" in built.stderr

    broken = react_project(tmp_path / "broken", **{"src/App.tsx": TYPE_ERROR_APP})
    failed = run(["submit", str(broken), "--name", "Broken site", "--wait"], cli_env)
    assert failed.returncode == 1
    assert "failed" in failed.stderr and "TS2322" in failed.stderr and "src/App.tsx" in failed.stderr

    status = run(["status"], cli_env)
    assert status.returncode == 0 and "Good site" in status.stdout and "Broken site" in status.stdout
    job_id = re.search(r"job (\d+), website", failed.stderr).group(1)
    one = run(["status", job_id], cli_env)
    assert one.returncode == 0 and "failed" in one.stdout and "TS2322" in one.stdout
    logs = run(["logs", job_id], cli_env)
    assert logs.returncode == 0 and "TS2322" in logs.stdout

    queued = run(["submit", str(good), "--name", "No wait"], cli_env)
    assert queued.returncode == 0 and queued.stdout.strip().isdigit()


def test_cli_refusals_are_clear(env, live_api, tmp_path):
    no_token = run(["status"], {**env, "WEBBUILDER_TOKEN": "", "WEBBUILDER_URL": live_api.url})
    assert no_token.returncode == 2 and "WEBBUILDER_TOKEN" in no_token.stderr
    bad_token = run(["status"], {**env, "WEBBUILDER_TOKEN": "nope", "WEBBUILDER_URL": live_api.url})
    assert bad_token.returncode == 1 and "Sign in first" in bad_token.stderr
    down = run(["status"], {**env, "WEBBUILDER_TOKEN": "x", "WEBBUILDER_URL": "http://127.0.0.1:9"})
    assert down.returncode == 1 and "cannot reach" in down.stderr
    run(["admin", "create-user", "ci-bot", "--password-stdin"], env, stdin="password123\n")
    token = run(["admin", "create-token", "ci-bot", "--name", "t"], env).stdout.strip()
    missing = run(["submit", str(tmp_path / "nothing"), "--name", "x"], {**env, "WEBBUILDER_TOKEN": token, "WEBBUILDER_URL": live_api.url})
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    other = run(["logs", "999"], {**env, "WEBBUILDER_TOKEN": token, "WEBBUILDER_URL": live_api.url})
    assert other.returncode == 1 and "Job not found." in other.stderr
    nobody = run(["admin", "create-token", "ghost", "--name", "t"], env)
    assert nobody.returncode == 1 and "There is no user 'ghost'" in nobody.stderr


def test_create_user_with_admin_makes_an_operator_and_without_it_a_plain_user(env, api):
    from webbuilder_app.state.ops import OpsState

    for username, flags in (("root", ["--admin"]), ("plain", [])):
        made = run(["admin", "create-user", username, "--password-stdin", *flags], env, stdin="password123\n")
        assert made.returncode == 0, made.stderr

    async def opens_ops_page(token: str) -> bool:
        ops_page = await (await states_signed_in_as(token)).get_state(OpsState)
        await OpsState.load.fn(ops_page)
        return ops_page.allowed

    for username, is_admin in (("root", True), ("plain", False)):
        signed_in = api.post("/api/auth/login", json={"username": username, "password": "password123"}).json()
        assert signed_in["user"]["isAdmin"] is is_admin
        assert asyncio.run(opens_ops_page(signed_in["token"])) is is_admin


def test_deploy_keeps_one_address_and_rollback_goes_back(env, live_api, processes, tmp_path):
    run(["admin", "create-user", "site-bot", "--password-stdin"], env, stdin="password123\n")
    token = run(["admin", "create-token", "site-bot", "--name", "deploys"], env).stdout.strip()
    cli_env = {**env, "WEBBUILDER_URL": live_api.url, "WEBBUILDER_TOKEN": token}
    processes.worker(env)

    first = run(["deploy", str(static_site(tmp_path / "v1", "first")), "--site", "my-blog", "--message", "launch"], cli_env)
    assert first.returncode == 0, first.stderr
    address = first.stdout.strip()
    assert re.fullmatch(r"http://my-blog\.localhost:\d+/", address), first.stdout
    assert "new website" in first.stderr and "✓ live" in first.stderr
    second = run(["deploy", str(static_site(tmp_path / "v2", "second")), "--site", "my-blog"], cli_env)
    assert second.returncode == 0 and second.stdout.strip() == address, second.stderr
    v1, v2 = (int(re.search(r"\(job (\d+)\)", done.stderr).group(1)) for done in (first, second))

    sites = run(["sites"], cli_env)
    assert sites.returncode == 0 and "my-blog" in sites.stdout and address in sites.stdout and f"{v2} completed" in sites.stdout

    def live_job() -> int:
        listed = httpx.get(f"{live_api.url}/api/website-builder/websites", headers={"Authorization": f"Bearer {token}"}).json()
        return listed["websites"][0]["liveJobId"]

    back = run(["rollback", "my-blog"], cli_env)
    assert back.returncode == 0 and back.stdout.strip() == address and f"deployment {v1} is live" in back.stderr
    assert live_job() == v1
    forward = run(["rollback", "my-blog", str(v2)], cli_env)
    assert forward.returncode == 0 and live_job() == v2
    nowhere = run(["rollback", "no-such-site"], cli_env)
    assert nowhere.returncode == 1 and "you have no website at 'no-such-site'" in nowhere.stderr
    history = httpx.get(f"{live_api.url}/api/website-builder/websites", headers={"Authorization": f"Bearer {token}"}).json()
    site_id = history["websites"][0]["id"]
    detail = httpx.get(f"{live_api.url}/api/website-builder/websites/{site_id}", headers={"Authorization": f"Bearer {token}"}).json()
    assert [(d["jobId"], d["message"], d["promotedBy"]) for d in detail["website"]["deployments"]] == [(v2, None, "site-bot"), (v1, "launch", "site-bot")]
