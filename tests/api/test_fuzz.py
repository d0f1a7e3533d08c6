"""Schema-driven fuzzing: schemathesis generates requests from the served OpenAPI document and every
answer must be something other than a server error."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import auth, sign_up, upload_zip

pytestmark = pytest.mark.integration
SCHEMATHESIS = str(Path(sys.executable).parent / "st")
# The stream never ends, and signing out would revoke the fuzzer's own token halfway through.
NOT_FUZZED = ["/api/website-builder/user/queue/stream", "/api/auth/logout"]


def test_fuzzing_finds_no_server_errors(live_api, make_zip, tmp_path):
    client = live_api.client()
    token = sign_up(client, "fuzzer")
    # Real objects with small ids, so generated ids reach the handlers' logic, not only "not found".
    upload_zip(client, token, make_zip("kept"))
    cancelled = upload_zip(client, token, make_zip("cancelled"))["website"]["buildJobId"]
    client.post(f"/api/website-builder/jobs/{cancelled}/cancel", headers=auth(token))
    # A webhook on a closed local port: generated tests and deliveries get a quick "refused".
    client.post("/api/website-builder/user/webhooks", headers=auth(token), json={"url": "http://127.0.0.1:9/fuzz"})
    argv = [
        SCHEMATHESIS, "run", f"{live_api.url}/api/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--checks", "not_a_server_error",
        *[arg for path in NOT_FUZZED for arg in ("--exclude-path", path)],
        "--max-examples", os.environ.get("WEBBUILDER_FUZZ_EXAMPLES", "40"),
        "--request-timeout", "20",
        "--workers", "1",
        "--seed", "6",
        "--generation-database", "none",
        "--no-color",
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    selected = re.search(r"Selected: (\d+)/", result.stdout)
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert selected and tested and tested.group(1) == selected.group(1), result.stdout[-3000:]
