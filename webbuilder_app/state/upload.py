"""The upload form: hand the files to the engine's intake, answer at once with the queue position."""

import reflex as rx
from fastapi.concurrency import run_in_threadpool

from workers import intake
from workers.archive import ArchiveError
from workers.jobs import JobError

from .auth import AuthState

UPLOAD_ID = "project"
PRIORITIES = {"Low": -5, "Normal": 0, "High": 5}


class UploadState(rx.State):
    site_name: str = ""
    priority_label: str = "Normal"
    uploading: bool = False
    upload_error: str = ""

    @rx.event
    def set_site_name(self, value: str):
        self.site_name = value

    @rx.event
    def set_priority_label(self, value: str):
        self.priority_label = value

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]):
        auth = await self.get_state(AuthState)
        user_id = auth.current_user_id()
        if user_id is None:
            return rx.redirect("/login")
        self.upload_error = ""
        named = [((f.path.as_posix() if f.path else f.filename) or "", f.file) for f in files]
        try:
            submitted = await run_in_threadpool(
                intake.accept, user_id, self.site_name, named, PRIORITIES.get(self.priority_label, 0)
            )
        except (ArchiveError, JobError) as exc:
            self.upload_error = str(exc)
            return [rx.toast.error("Upload refused", description=str(exc)), rx.clear_selected_files(UPLOAD_ID)]
        self.site_name = ""
        position = submitted.queue_position
        message = f"Website queued! Position {position}" if position else "Website queued!"
        return [rx.toast.success(message), rx.clear_selected_files(UPLOAD_ID), rx.redirect(f"/jobs/{submitted.job.id}")]
