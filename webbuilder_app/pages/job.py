"""One job: steps with durations and cache use, the live log (and the full one to download), errors,
and actions."""

import reflex as rx

from webbuilder_app.components.job_card import eta_text, timestamps
from webbuilder_app.components.layout import signed_in_page
from webbuilder_app.components.link import link
from webbuilder_app.components.log_view import log_view
from webbuilder_app.components.status import status_badge
from webbuilder_app.components.steps import step_timeline
from webbuilder_app.state.job import JobFeedState, JobState


def actions() -> rx.Component:
    job = JobFeedState.job
    return rx.hstack(
        rx.cond(
            JobFeedState.is_active,
            rx.button(rx.icon("square", size=16), "Cancel", color_scheme="red", variant="soft", high_contrast=True,
                      on_click=JobState.cancel(JobState.viewing_id), id="cancel-job"),
        ),
        rx.cond(
            JobFeedState.can_retry,
            rx.button(rx.icon("rotate-ccw", size=16), "Retry build", on_click=JobState.retry(JobState.viewing_id), id="retry-job"),
        ),
        rx.cond(
            job["previewUrl"],
            link(rx.button(rx.icon("external-link", size=16), "View website", class_name="view-website"),
                 href=job["previewUrl"].to(str), is_external=True),
        ),
        spacing="2",
    )


def retry_dialog() -> rx.Component:
    """Opened by a failed build's notification (`?retry=1`): it asks, so a reload retries nothing."""
    job = JobFeedState.job
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Retry this build?"),
            rx.alert_dialog.description(
                rx.cond(job["status"] == "cancelled", "It was cancelled. ",
                        rx.text.span(job["websiteName"].to(str), " failed: ", job["error"].to(str).split("\n")[0], ". ")),
                "A retry builds the same files again as a new build; this one stays in your history.",
                size="2",
            ),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Not now", variant="soft", color_scheme="gray", id="retry-not-now")),
                rx.alert_dialog.action(
                    rx.button(rx.icon("rotate-ccw", size=16), "Retry", on_click=JobState.retry(JobState.viewing_id), id="retry-confirm"),
                ),
                spacing="3",
                justify="end",
                margin_top="1rem",
            ),
            id="retry-dialog",
        ),
        open=JobState.retry_offered,
        on_open_change=JobState.set_retry_offer_open,
    )


def _error_detail(error: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(error["file"].to(str), ":", error["line"].to(str), variant="ghost"), white_space="nowrap"),
        rx.table.cell(rx.cond(error["code"], rx.badge(error["code"].to(str), color_scheme="red", variant="soft", high_contrast=True))),
        rx.table.cell(error["message"].to(str)),
        class_name="error-detail",
    )


def error_panel() -> rx.Component:
    details = JobFeedState.job["errorDetails"].to(list[dict])
    return rx.cond(
        JobFeedState.job["error"],
        rx.card(
            rx.vstack(
                rx.hstack(rx.icon("circle-x", color="var(--red-10)"), rx.heading("Why the build failed", size="3"), align="center"),
                rx.text(JobFeedState.job["error"].to(str).split("\n")[0], size="2", weight="medium", id="job-error"),
                rx.cond(
                    details.length() > 0,
                    rx.table.root(
                        rx.table.header(rx.table.row(
                            rx.table.column_header_cell("Where"), rx.table.column_header_cell("Code"), rx.table.column_header_cell("Message"),
                        )),
                        rx.table.body(rx.foreach(details, _error_detail)),
                        size="1",
                        width="100%",
                        id="error-list",
                    ),
                    rx.code_block(JobFeedState.job["error"].to(str), language="log", width="100%", wrap_long_lines=True),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
            style={"border_left": "3px solid var(--red-9)"},
        ),
    )


def job_view() -> rx.Component:
    job = JobFeedState.job
    return rx.vstack(
        link(rx.hstack(rx.icon("arrow-left", size=14), rx.text("My websites", size="2"), align="center", spacing="1"),
             href="/", color_scheme="gray"),
        rx.flex(
            rx.hstack(
                rx.heading(job["websiteName"].to(str), size="7", id="job-title"),
                status_badge(job["status"]),
                rx.cond(job["queuePosition"], rx.badge("Position ", job["queuePosition"].to(int), variant="outline", size="2", id="queue-position")),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.spacer(),
            actions(),
            width="100%",
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        rx.hstack(
            rx.text("Build #", job["id"].to(str), size="2", color_scheme="gray"),
            rx.cond(
                job["retryOf"],
                link("Retry of #", job["retryOf"].to(str), href="/jobs/" + job["retryOf"].to(str), size="2", id="retry-of"),
            ),
            rx.text("·", color_scheme="gray"),
            timestamps(job),
            eta_text(job),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        rx.vstack(
            rx.progress(value=job["progress"].to(int), max=100, width="100%", aria_label="Build progress"),
            rx.text(job["currentStep"].to(str), size="2", color_scheme="gray", id="current-step"),
            width="100%",
            spacing="1",
        ),
        step_timeline(JobFeedState.steps),
        error_panel(),
        rx.hstack(
            rx.heading("Log", size="4"),
            rx.spacer(),
            rx.button(rx.icon("download", size=14), "Full log", size="1", variant="soft", color_scheme="gray",
                      on_click=JobState.download_log(JobState.viewing_id), id="download-log"),
            width="100%",
            align="center",
        ),
        log_view(JobFeedState.log_lines),
        retry_dialog(),
        spacing="4",
        width="100%",
        id="job-view",
        data_status=job["status"].to(str),
    )


@signed_in_page("/jobs/[job_id]", "Build", on_load=[JobState.load])
def job_page() -> rx.Component:
    return rx.cond(
        JobState.not_found,
        rx.callout("This build does not exist or belongs to someone else.", icon="search-x", color_scheme="gray", id="job-not-found"),
        rx.cond(
            JobFeedState.job["id"].to(int) == JobState.viewing_id,  # not a previously opened job
            job_view(),
            rx.center(rx.spinner(size="3"), padding="4rem"),
        ),
    )
