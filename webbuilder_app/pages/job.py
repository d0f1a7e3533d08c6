"""One job: steps with durations and cache use, the live log, errors, and actions."""

import reflex as rx

from webbuilder_app.components.layout import signed_in_page
from webbuilder_app.components.status import status_badge
from webbuilder_app.state.job import JobState
from webbuilder_app.styles import log_box

STEP_NAMES = ("extract", "install", "typecheck", "build", "publish")


def step_row(name: str) -> rx.Component:
    step = JobState.job["steps"].to(dict)[name].to(dict)
    return rx.hstack(
        rx.text(name, weight="medium", width="7rem"),
        rx.cond(step, rx.badge(step["status"].to(str), variant="soft"), rx.badge("waiting", variant="outline")),
        rx.cond(step["seconds"], rx.text(step["seconds"].to(str), " s", size="2")),
        rx.cond(step["cache"], rx.badge("cache ", step["cache"].to(str), color_scheme="cyan", variant="soft")),
        rx.cond(step["cacheReason"], rx.text(step["cacheReason"].to(str), size="1", color_scheme="gray")),
        align="center",
        spacing="3",
        class_name="step-row",
    )


def error_list() -> rx.Component:
    return rx.cond(
        JobState.job["error"],
        rx.callout(
            rx.vstack(
                rx.text(JobState.job["error"].to(str), white_space="pre-wrap", font_family="monospace", size="2", id="job-error"),
                rx.foreach(
                    JobState.job["errorDetails"].to(list[dict]),
                    lambda e: rx.text(e["file"], ":", e["line"], ":", e["column"], " ", e["code"], " ", e["message"], size="2", class_name="error-detail"),
                ),
            ),
            icon="circle-x",
            color_scheme="red",
            width="100%",
        ),
    )


@signed_in_page("/jobs/[job_id]", "Build", on_load=[JobState.load])
def job_page() -> rx.Component:
    return rx.cond(
        JobState.not_found,
        rx.text("This job does not exist or is not yours."),
        rx.vstack(
            rx.hstack(
                rx.heading(JobState.job["websiteName"].to(str), size="6", id="job-title"),
                status_badge(JobState.job["status"]),
                rx.spacer(),
                rx.cond(
                    JobState.job["previewUrl"],
                    rx.link(rx.button(rx.icon("external-link", size=16), "View website", class_name="view-website"), href=JobState.job["previewUrl"].to(str), is_external=True),
                ),
                width="100%",
                align="center",
            ),
            rx.progress(value=JobState.job["progress"].to(int), max=100, width="100%"),
            rx.text(JobState.job["currentStep"].to(str), color_scheme="gray", id="current-step"),
            rx.card(rx.vstack(*[step_row(name) for name in STEP_NAMES], spacing="2"), width="100%"),
            error_list(),
            rx.heading("Log", size="3"),
            rx.box(rx.foreach(JobState.log_lines, lambda line: rx.text(line, size="1")), style=log_box, id="log"),
            spacing="4",
            width="100%",
        ),
    )
