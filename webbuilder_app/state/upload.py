"""The upload form: hand the files to the engine's intake, answer at once with the queue position."""

import reflex as rx
from fastapi.concurrency import run_in_threadpool

from workers.config import settings
from workers.errors import UserError
from workers.services import builds

from .auth import AuthState

UPLOAD_ID = "project"
PRIORITIES = {"Low": -5, "Normal": 0, "High": 5}


class UploadState(rx.State):
    site_name: str = ""
    # As typed by an admin or set from a label; the server decides what the user may have.
    priority: str = "0"
    uploading: bool = False
    sent_percent: int = 0
    upload_error: str = ""

    @rx.event
    def set_site_name(self, value: str):
        self.site_name = value

    @rx.event
    def set_priority_label(self, value: str):
        self.priority = str(PRIORITIES.get(value, 0))

    @rx.event
    def set_priority(self, value: str):
        self.priority = value

    @rx.var
    def priority_label(self) -> str:
        return next((label for label, number in PRIORITIES.items() if str(number) == self.priority), "")

    @rx.event
    def start(self):
        self.uploading, self.sent_percent, self.upload_error = True, 0, ""

    @rx.event
    def track_progress(self, progress: dict):
        """Browser → server transfer progress, for large uploads."""
        self.sent_percent = min(100, round(float(progress.get("progress", 0)) * 100))

    @rx.event
    def upload_settled(self):
        """The browser's upload request is over, whatever its outcome (components/upload_zone.py).

        The upload handler answers inside that request, so a request that succeeded or was refused by
        the intake has already cleared `uploading`. Still set, the request never reached the handler:
        the connection dropped, or the server refused the body (413 over the size limit). The files
        stay selected, so trying again is one click.
        """
        if not self.uploading:
            return None
        self.uploading = False
        self.upload_error = (
            "The upload did not go through: the connection dropped or the server refused it "
            f"(uploads are limited to {settings().max_upload_mb} MB). Nothing was queued; try again."
        )
        return rx.toast.error("Upload failed", description=self.upload_error)

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]):
        user = (await self.get_state(AuthState))._signed_in_user()
        if user is None:
            self.uploading = False
            return rx.redirect("/login")
        # Reflex passes the browser's relative path (a folder's structure) as UploadFile.path.
        named = [((f.path.as_posix() if f.path else f.filename) or "", f.file) for f in files]
        try:
            submitted = await run_in_threadpool(builds.upload, user, self.site_name, named, self.priority)
        except (UserError, UserError) as exc:
            self.uploading, self.upload_error = False, f"Upload refused: {exc}"
            return [rx.toast.error("Upload refused", description=str(exc)), rx.clear_selected_files(UPLOAD_ID)]
        self.site_name, self.uploading = "", False
        return [rx.toast.success(submitted.message), rx.clear_selected_files(UPLOAD_ID), rx.redirect(f"/jobs/{submitted.job.id}")]
