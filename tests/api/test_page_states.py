"""The upload form's priority and the job page's retry question and full log, through the Reflex
event handlers as the app runs them (no browser): what the server decides, whatever a client sends."""

from __future__ import annotations

import base64
from pathlib import Path

from reflex.istate.data import ReflexURL
from reflex_components_core.core._upload import UploadFile

from tests.api.conftest import PASSWORD, auth, event_args, run, sign_up, states_signed_in_as, upload_zip
from tests.helpers import job, make_user
from webbuilder_app.state.job import JobState, offers_retry
from webbuilder_app.state.upload import UploadState
from workers.notify import bell
from workers.store import files

BASE = "/api/website-builder"


async def send_form(token: str, archive: Path, priority: str) -> tuple[str, list]:
    """Submit the upload form with `priority` as typed in the admins' field (or sent by a hand-made
    event: a plain user's form has no such field); returns the form's error and the handler's answer."""
    form = await (await states_signed_in_as(token)).get_state(UploadState)
    UploadState.set_site_name.fn(form, "Form site")
    UploadState.set_priority.fn(form, priority)
    with open(archive, "rb") as stream:
        answer = await UploadState.handle_upload.fn(form, [UploadFile(file=stream, path=Path(archive.name))])
    return form.upload_error, answer


def uploaded_job_id(token: str, archive: Path, priority: str) -> int:
    error, answer = run(send_form(token, archive, priority))
    assert error == ""
    return int(event_args(answer[-1])["path"].rsplit("/", 1)[1])  # redirected to the new job's page


def test_the_upload_form_gives_an_admin_any_priority_and_holds_users_to_ten(api, make_zip):
    make_user("root", admin=True)
    admin = api.post("/api/auth/login", json={"username": "root", "password": PASSWORD}).json()["token"]
    user = sign_up(api, "alice")
    assert job(uploaded_job_id(admin, make_zip("admin"), "50")).priority == 50
    assert job(uploaded_job_id(user, make_zip("user"), "50")).priority == 10
    error, _ = run(send_form(admin, make_zip("too-high"), "1001"))
    assert error == "Upload refused: priority must be between -1000 and 1000"


def test_the_labels_set_the_priority(api):
    async def pick(label: str) -> tuple[str, str]:
        form = await (await states_signed_in_as(sign_up(api, "alice"))).get_state(UploadState)
        UploadState.set_priority_label.fn(form, label)
        return form.priority, form.priority_label

    assert run(pick("High")) == ("5", "High")


def test_the_job_page_asks_to_retry_only_when_it_can_and_was_asked(api, make_zip):
    """What `JobState.load` decides from the job and the page's address (linking the page to the
    job's live view needs the running app: the e2e test follows a notification to the dialog)."""
    token = sign_up(api, "alice")
    queued = upload_zip(api, token, make_zip("queued"))["website"]["buildJobId"]
    cancelled = upload_zip(api, token, make_zip("cancelled"))["website"]["buildJobId"]
    api.post(f"{BASE}/jobs/{cancelled}/cancel", headers=auth(token))

    def offered(path: str) -> bool:
        url = ReflexURL(path)  # parsed as the page's router parses it
        detail = api.get(f"{BASE}/jobs/{url.path.rsplit('/', 1)[1]}", headers=auth(token)).json()
        return offers_retry(detail, url.query_parameters)

    assert offered(bell.retry_action_url(cancelled)) is True
    assert offered(f"/jobs/{cancelled}") is False  # opened some other way: no question
    assert offered(bell.retry_action_url(queued)) is False  # nothing to retry


def test_the_full_log_downloads_whole(api, make_zip):
    token = sign_up(api, "alice")
    job_id = upload_zip(api, token, make_zip("logged"))["website"]["buildJobId"]
    lines = [f"line {number}" for number in range(1000)]  # far more than the page's tail
    files.log_path(job_id).write_text("\n".join(lines) + "\n")

    async def download() -> dict:
        page = await (await states_signed_in_as(token)).get_state(JobState)
        return event_args(await JobState.download_log.fn(page, job_id))

    answer = run(download())
    assert answer["filename"] == f"job-{job_id}.log"
    assert base64.b64decode(answer["url"].split("base64,", 1)[1]).decode().splitlines() == lines
