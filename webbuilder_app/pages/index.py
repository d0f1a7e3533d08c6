"""Home: upload a project, and My Build Queue under it."""

import reflex as rx

from webbuilder_app.components.job_card import job_card
from webbuilder_app.components.layout import signed_in_page
from webbuilder_app.state.feed import FeedState
from webbuilder_app.state.upload import PRIORITIES, UPLOAD_ID, UploadState


def upload_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Upload a website", size="4"),
            rx.upload(
                rx.vstack(
                    rx.icon("upload", size=28),
                    rx.text("Drop a .zip of your project, or a folder, here — or click to pick files."),
                    align="center",
                    spacing="2",
                ),
                id=UPLOAD_ID,
                multiple=True,
                border="2px dashed var(--gray-a7)",
                border_radius="10px",
                padding="2rem",
                width="100%",
            ),
            rx.hstack(rx.foreach(rx.selected_files(UPLOAD_ID), lambda name: rx.badge(name, variant="outline")), wrap="wrap"),
            rx.hstack(
                rx.input(placeholder="Website name", value=UploadState.site_name, on_change=UploadState.set_site_name, id="site-name", flex="1"),
                rx.select(list(PRIORITIES), value=UploadState.priority_label, on_change=UploadState.set_priority_label, id="priority"),
                rx.button(
                    rx.icon("rocket", size=16),
                    "Upload and build",
                    on_click=UploadState.handle_upload(rx.upload_files(upload_id=UPLOAD_ID)),
                    id="upload-button",
                ),
                width="100%",
            ),
            rx.cond(UploadState.upload_error != "", rx.callout(UploadState.upload_error, icon="triangle-alert", color_scheme="red")),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def queue_section() -> rx.Component:
    return rx.vstack(
        rx.heading("My Build Queue", size="5"),
        rx.heading("Active Builds (", FeedState.active_count, ")", size="3", id="active-heading"),
        rx.cond(
            FeedState.active_count > 0,
            rx.vstack(rx.foreach(FeedState.active_jobs, job_card), width="100%", id="active-jobs"),
            rx.text("Nothing is building. Upload a project above.", color_scheme="gray", size="2"),
        ),
        rx.heading("Recent Builds", size="3"),
        rx.cond(
            FeedState.recent_jobs.length() > 0,
            rx.vstack(rx.foreach(FeedState.recent_jobs, job_card), width="100%", id="recent-jobs"),
            rx.text("No finished builds yet.", color_scheme="gray", size="2"),
        ),
        width="100%",
        spacing="3",
    )


@signed_in_page("/", "My Build Queue")
def index() -> rx.Component:
    return rx.vstack(upload_card(), queue_section(), spacing="6", width="100%")
