"""Uploads, build status, the user's queue, notifications, cancel, retry and logs."""

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.datastructures import UploadFile

from workers.config import settings
from workers.errors import UploadTooLarge, UserError
from workers.services import builds, notifications
from workers.store.models import User

from .auth import RowId, current_user
from .schemas import Cancelled, JobDetail, Notifications, Queue, Retried, Updated, Uploaded, errors

router = APIRouter(prefix="/api/website-builder", tags=["builds"])
UNSUPPORTED_ARCHIVES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".rar", ".7z", ".gz")

UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files", "name"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "string", "format": "binary"},
                            "description": "One .zip of the project, or every file of the project folder "
                            "(each part's filename is its relative path, e.g. src/App.tsx).",
                        },
                        "name": {"type": "string", "minLength": 1, "maxLength": 200, "description": "The website's name."},
                        "priority": {
                            "type": "integer",
                            "default": 0,
                            "description": "Higher builds sooner; users are held to -10..10.",
                        },
                        "websiteId": {
                            "type": "integer",
                            "description": "Deploy a new version of this website of yours (the name is then ignored); "
                            "without it, a new website.",
                        },
                        "message": {"type": "string", "maxLength": 500, "description": "The deployment's message."},
                        "slug": {"type": "string", "maxLength": 63, "description": "A new website's address (default: from its name)."},
                    },
                }
            }
        },
    }
}


async def _limited_form(request: Request):
    """Parse the multipart body while counting bytes: refuse past the limit without reading on."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UserError("Send the upload as multipart/form-data with the project in 'files'.", 415)
    limit = builds.upload_request_limit()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge(settings().max_upload_mb)
    received = 0
    receive = request.receive

    async def counting_receive():
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise UploadTooLarge(settings().max_upload_mb)
        return message

    return await Request(request.scope, counting_receive).form(max_files=20_000, max_fields=50)


def _check_archive_type(uploads: list[UploadFile]) -> None:
    if len(uploads) == 1 and (uploads[0].filename or "").lower().endswith(UNSUPPORTED_ARCHIVES):
        raise UserError("Only .zip archives are accepted; zip the project folder, or upload the folder itself.", 415)


@router.post(
    "/upload",
    status_code=202,
    response_model=Uploaded,
    responses=errors(400, 401, 404, 409, 413, 415, 422),
    openapi_extra=UPLOAD_FORM,
)
async def upload(request: Request, user: User = Depends(current_user)) -> JSONResponse:
    """Queue a build of a project: answers at once with the job id and queue position."""
    form = await _limited_form(request)
    try:
        uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not uploads:
            raise UserError("send the project as 'files': one .zip, or the files of a folder")
        _check_archive_type(uploads)
        name = str(form.get("name") or "")
        files = [(f.filename or "", f.file) for f in uploads]
        submitted = await run_in_threadpool(
            builds.upload, user, name, files, form.get("priority"), form.get("websiteId"), form.get("message"), form.get("slug"))
    finally:
        await form.close()
    position = submitted.queue_position
    return JSONResponse(
        {
            "success": True,
            "website": {
                "id": submitted.website.id,
                "name": submitted.website.name,
                "type": submitted.website.type,
                "buildJobId": submitted.job.id,
                "slug": submitted.website.slug,
                "url": settings().preview_url(submitted.website.slug),
            },
            "queuePosition": position,
            "message": submitted.message,
        },
        status_code=202,
    )


@router.get("/{website_id}/build-status", response_model=JobDetail, responses=errors(401, 404))
def build_status(website_id: RowId, user: User = Depends(current_user)) -> dict:
    """The website's latest build, with the last 50 log lines, its stable address and live deployment."""
    return {"success": True, **builds.build_status(user, website_id)}


@router.get("/user/queue", response_model=Queue, responses=errors(401))
def user_queue(user: User = Depends(current_user)) -> dict:
    """Your active jobs (in queue order) and your last 10 finished ones."""
    return {"success": True, **builds.queue(user)}


@router.get("/user/notifications", response_model=Notifications, responses=errors(401))
def list_notifications(user: User = Depends(current_user)) -> dict:
    """Your last 50 notifications and how many are unread."""
    return {"success": True, **notifications.recent(user)}


@router.patch("/user/notifications/{notification_id}/read", response_model=Updated, responses=errors(401, 404))
def mark_read(notification_id: RowId, user: User = Depends(current_user)) -> dict:
    """Mark one notification read."""
    return {"success": True, "updated": notifications.mark_read(user, notification_id)}


@router.post("/user/notifications/read-all", response_model=Updated, responses=errors(401))
def mark_all_read(user: User = Depends(current_user)) -> dict:
    """Mark all your notifications read."""
    return {"success": True, "updated": notifications.mark_read(user)}


@router.get("/jobs/{job_id}", response_model=JobDetail, responses=errors(401, 404))
def job(job_id: RowId, user: User = Depends(current_user)) -> dict:
    """One job with its steps, errors and whole log as lines."""
    return {"success": True, **builds.job_detail(user, job_id)}


@router.post("/jobs/{job_id}/cancel", response_model=Cancelled, responses=errors(401, 404, 409))
def cancel(job_id: RowId, user: User = Depends(current_user)) -> dict:
    """Cancel: a queued job at once, a building one as soon as its worker sees the request."""
    job = builds.cancel(user, job_id)
    return {"success": True, "jobId": job_id, "status": job.status, "cancelRequested": True}


@router.post("/jobs/{job_id}/retry", status_code=202, response_model=Retried, responses=errors(401, 404, 409))
def retry(job_id: RowId, user: User = Depends(current_user)) -> dict:
    """Queue a new job with the same files as a failed or cancelled one."""
    new_job = builds.retry(user, job_id)
    return {"success": True, "jobId": new_job.id, "websiteId": new_job.website_id, "retryOf": job_id}


@router.get(
    "/jobs/{job_id}/logs",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **errors(401, 404)},
)
def logs(job_id: RowId, user: User = Depends(current_user)) -> str:
    """The job's whole build log as plain text."""
    return builds.full_log(user, job_id)
