"""Uploads, build status, the user's queue, notifications, cancel, retry and logs."""

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.datastructures import UploadFile

from workers import events, intake, jobs
from workers.archive import ArchiveError
from workers.config import settings
from workers.db import session_scope
from workers.models import User

from .auth import current_user

router = APIRouter(prefix="/api/website-builder", tags=["builds"])


async def _limited_form(request: Request):
    """Parse the multipart body while counting bytes: refuse past the limit without reading on."""
    limit = settings().max_upload_bytes + 1024 * 1024  # room for the multipart framing
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise intake.UploadTooLarge(settings().max_upload_mb)
    received = 0
    receive = request.receive

    async def counting_receive():
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise intake.UploadTooLarge(settings().max_upload_mb)
        return message

    return await Request(request.scope, counting_receive).form(max_files=20_000, max_fields=50)


@router.post("/upload", status_code=202)
async def upload(request: Request, user: User = Depends(current_user)) -> JSONResponse:
    form = await _limited_form(request)
    try:
        uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not uploads:
            raise ArchiveError("send the project as 'files': one .zip, or the files of a folder")
        raw_priority = str(form.get("priority") or "0")
        try:
            priority = int(raw_priority)
        except ValueError:
            raise jobs.JobError(f"priority must be a whole number, got {raw_priority!r}", 422) from None
        if not user.is_admin:
            priority = max(-10, min(10, priority))
        name = str(form.get("name") or "")
        files = [(f.filename or "", f.file) for f in uploads]
        submitted = await run_in_threadpool(intake.accept, user.id, name, files, priority)
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
            },
            "queuePosition": position,
            "message": f"Website queued! Position {position}" if position else "Website queued!",
        },
        status_code=202,
    )


@router.get("/{website_id}/build-status")
def build_status(website_id: int, user: User = Depends(current_user)) -> dict:
    with session_scope() as session:
        return {"success": True, **jobs.build_status(session, user.id, website_id)}


@router.get("/user/queue")
def user_queue(user: User = Depends(current_user)) -> dict:
    with session_scope() as session:
        return {"success": True, **jobs.user_queue(session, user.id)}


@router.get("/user/notifications")
def notifications(user: User = Depends(current_user)) -> dict:
    with session_scope() as session:
        return {"success": True, **jobs.notifications(session, user.id)}


@router.patch("/user/notifications/{notification_id}/read")
def mark_read(notification_id: int, user: User = Depends(current_user)) -> dict:
    with session_scope() as session:
        changed = jobs.mark_read(session, user.id, notification_id)
    events.publish("notification", user.id)
    return {"success": True, "updated": changed}


@router.post("/user/notifications/read-all")
def mark_all_read(user: User = Depends(current_user)) -> dict:
    with session_scope() as session:
        changed = jobs.mark_read(session, user.id)
    events.publish("notification", user.id)
    return {"success": True, "updated": changed}


@router.get("/jobs/{job_id}")
def job(job_id: int, user: User = Depends(current_user)) -> dict:
    with session_scope() as session:
        return {"success": True, **jobs.job_detail(session, user.id, job_id)}


@router.post("/jobs/{job_id}/cancel")
def cancel(job_id: int, user: User = Depends(current_user)) -> dict:
    with session_scope() as session:
        job = jobs.cancel(session, user.id, job_id)
        status = job.status
    events.publish("job_update", user.id, job_id)
    events.publish("notification", user.id, job_id)
    return {"success": True, "jobId": job_id, "status": status, "cancelRequested": True}


@router.post("/jobs/{job_id}/retry", status_code=202)
def retry(job_id: int, user: User = Depends(current_user)) -> dict:
    with session_scope() as session:
        new_job = jobs.retry(session, user.id, job_id)
    jobs.after_submit(new_job)
    return {"success": True, "jobId": new_job.id, "websiteId": new_job.website_id, "retryOf": job_id}


@router.get("/jobs/{job_id}/logs", response_class=PlainTextResponse)
def logs(job_id: int, user: User = Depends(current_user)) -> str:
    with session_scope() as session:
        return jobs.full_log(session, user.id, job_id)
