"""The upload form (a new website) and the "Deploy a new version" dialog (a new deployment of one of
the user's websites): hand the files to the engine's intake, answer at once with the queue position."""

import reflex as rx
from fastapi.concurrency import run_in_threadpool

from workers.config import settings
from workers.errors import UserError
from workers.services import builds, websites

from .auth import AuthState

UPLOAD_ID = "project"
DEPLOY_ID = "new-version"  # the drop zone of the "Deploy a new version" dialog
PRIORITIES = {"Low": -5, "Normal": 0, "High": 5}


class UploadState(rx.State):
    """One upload at a time per tab, from the form or the dialog: they share the progress and error."""

    site_name: str = ""
    message: str = ""  # of the new website's first deployment
    # As typed by an admin or set from a label; the server decides what the user may have.
    priority: str = "0"
    uploading: bool = False
    sent_percent: int = 0
    upload_error: str = ""
    # The dialog: the website it deploys a new version of (0: closed), that website's name, the message.
    deploy_to: int = 0
    deploy_name: str = ""
    version_message: str = ""

    @rx.event
    def set_site_name(self, value: str):
        self.site_name = value

    @rx.event
    def set_message(self, value: str):
        self.message = value

    @rx.event
    def set_version_message(self, value: str):
        self.version_message = value

    @rx.event
    async def open_deploy(self, website_id: int):
        """Open the dialog for one of the user's websites (the upload is checked again when it comes)."""
        user = (await self.get_state(AuthState))._signed_in_user()
        if user is None:
            return rx.redirect("/login")
        website = next((site for site in websites.websites(user) if site["id"] == website_id), None)
        if website is None:
            return rx.toast.error("Website not found.")
        self.deploy_to, self.deploy_name, self.version_message, self.upload_error = website["id"], website["name"], "", ""
        return None

    @rx.event
    def set_deploy_open(self, is_open: bool):
        if not is_open:
            self.deploy_to, self.upload_error = 0, ""

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
        """The form: a new website, whose build page opens."""
        submitted = await self._submit(files, UPLOAD_ID, self.site_name, self.priority, None, self.message)
        if isinstance(submitted, list):  # refused
            return submitted
        self.site_name = self.message = ""
        return [rx.toast.success(submitted.message), rx.clear_selected_files(UPLOAD_ID), rx.redirect(f"/jobs/{submitted.job.id}")]

    @rx.event
    async def deploy_version(self, files: list[rx.UploadFile]):
        """The dialog: a new deployment of its website, at Normal priority; the page stays, its cards
        and history follow the build."""
        submitted = await self._submit(files, DEPLOY_ID, "", PRIORITIES["Normal"], self.deploy_to, self.version_message)
        if isinstance(submitted, list):  # refused
            return submitted
        self.deploy_to, self.version_message = 0, ""
        return [rx.toast.success(submitted.message, description=f"A new version of {self.deploy_name}."), rx.clear_selected_files(DEPLOY_ID)]

    async def _submit(self, files: list[rx.UploadFile], upload_id: str, name: str, priority: object, website_id: int | None, message: str):
        """The intake's answer, or the list of events that tell the user why there is none."""
        user = (await self.get_state(AuthState))._signed_in_user()
        if user is None:
            self.uploading = False
            return [rx.redirect("/login")]
        # Reflex passes the browser's relative path (a folder's structure) as UploadFile.path.
        named = [((f.path.as_posix() if f.path else f.filename) or "", f.file) for f in files]
        try:
            submitted = await run_in_threadpool(builds.upload, user, name, named, priority, website_id, message)
        except UserError as exc:
            self.uploading, self.upload_error = False, f"Upload refused: {exc}"
            return [rx.toast.error("Upload refused", description=str(exc)), rx.clear_selected_files(upload_id)]
        self.uploading = False
        return submitted
