"""One job in the queue: status, progress, step, position and ETA, and what can be done with it."""

import reflex as rx

from webbuilder_app.components.status import status_badge
from webbuilder_app.state.job import JobState


def eta_text(job: rx.Var) -> rx.Component:
    return rx.cond(
        job["estimatedTimeRemaining"],
        rx.text("about ", job["estimatedTimeRemaining"].to(int), " s left", size="1", color_scheme="gray"),
        rx.fragment(),
    )


def job_card(job: rx.Var) -> rx.Component:
    active = (job["status"] == "queued") | (job["status"] == "building") | (job["status"] == "running") | (job["status"] == "pending")
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(job["websiteName"], weight="bold", size="3", class_name="job-name"),
                status_badge(job["status"]),
                rx.spacer(),
                rx.cond(job["queuePosition"], rx.badge("Position ", job["queuePosition"].to(int), variant="outline", class_name="queue-position")),
                width="100%",
                align="center",
            ),
            rx.cond(active, rx.progress(value=job["progress"].to(int), max=100, width="100%")),
            rx.hstack(
                rx.text(job["currentStep"], size="2", color_scheme="gray", class_name="current-step"),
                eta_text(job),
                spacing="3",
            ),
            rx.cond(job["error"], rx.text(job["error"].to(str).split("\n")[0], size="2", color_scheme="red", class_name="job-error")),
            rx.hstack(
                rx.link(rx.button(rx.icon("scroll-text", size=14), "View logs", size="1", variant="soft"), href="/jobs/" + job["id"].to(str)),
                rx.cond(
                    active,
                    rx.button(rx.icon("square", size=14), "Cancel", size="1", variant="soft", color_scheme="red", on_click=JobState.cancel(job["id"].to(int))),
                ),
                rx.cond(
                    job["previewUrl"],
                    rx.link(rx.button(rx.icon("external-link", size=14), "View website", size="1", class_name="view-website"), href=job["previewUrl"].to(str), is_external=True),
                ),
                rx.cond(
                    (job["status"] == "failed") | (job["status"] == "cancelled"),
                    rx.button(rx.icon("rotate-ccw", size=14), "Retry build", size="1", variant="soft", on_click=JobState.retry(job["id"].to(int))),
                ),
                rx.spacer(),
                rx.moment(job["createdAt"], from_now=True, size="1", color="var(--gray-10)"),
                width="100%",
                align="center",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="job-card",
        data_status=job["status"],
    )
