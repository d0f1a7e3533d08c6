"""One job in the queue: status, progress, step, position and ETA, and what can be done with it."""

import reflex as rx

from webbuilder_app.components.link import link
from webbuilder_app.components.status import status_badge
from webbuilder_app.state.job import JobState

# A react-moment renderer: the time left until the moment, redrawn by the component's own timer.
COUNTDOWN = rx.Var(
    _js_expr="""(({datetime}) => {
  const seconds = Math.round(datetime.diff(Date.now()) / 1000);
  if (seconds <= 0) return "any moment now";
  return seconds >= 90 ? `about ${Math.floor(seconds / 60)} min` : `about ${seconds} s`;
})"""
)


def eta_text(job: rx.Var) -> rx.Component:
    """Counts down in the browser to the estimate's absolute time, so a job waiting behind someone
    else's long build does not show a frozen ETA until the next server push."""
    return rx.cond(
        job["estimatedCompletionAt"],
        rx.text(
            rx.icon("timer", size=13, display="inline", vertical_align="-2px"),
            " ETA ",
            rx.moment(job["estimatedCompletionAt"].to(str), renderers=[COUNTDOWN], interval=1000),
            size="2",
            color_scheme="gray",
            class_name="eta",
        ),
    )


def first_error_detail(job: rx.Var) -> rx.Component:
    """The first structured error (file:line and message), when the tool's output had one."""
    details = job["errorDetails"].to(list[dict])
    return rx.cond(
        details.length() > 0,
        rx.text.span(details[0]["file"].to(str), ":", details[0]["line"].to(str), " ", details[0]["message"].to(str), weight="medium"),
    )


def timestamps(job: rx.Var) -> rx.Component:
    """Relative times that keep themselves current in the browser (no server round trip)."""
    return rx.hstack(
        rx.text("Created ", rx.moment(job["createdAt"].to(str), from_now=True, interval=30_000), size="2", color_scheme="gray"),
        rx.cond(
            job["startedAt"],
            rx.text("· Started ", rx.moment(job["startedAt"].to(str), from_now=True, interval=30_000), size="2", color_scheme="gray"),
        ),
        rx.cond(
            job["completedAt"],
            rx.text("· Finished ", rx.moment(job["completedAt"].to(str), from_now=True, interval=30_000), size="2", color_scheme="gray"),
        ),
        spacing="1",
        wrap="wrap",
    )


def _is_active(job: rx.Var) -> rx.Var:
    status = job["status"].to(str)
    return (status == "pending") | (status == "queued") | (status == "building") | (status == "running")


def job_card(job: rx.Var) -> rx.Component:
    active = _is_active(job)
    return rx.card(
        rx.vstack(
            rx.hstack(
                link(rx.text(job["websiteName"], weight="bold", size="3", class_name="job-name"),
                     href="/jobs/" + job["id"].to(str), color_scheme="gray", high_contrast=True, underline="hover"),
                status_badge(job["status"]),
                rx.spacer(),
                rx.cond(
                    job["queuePosition"],
                    rx.badge(rx.icon("list-ordered", size=12), "Position ", job["queuePosition"].to(int), variant="outline", size="2", class_name="queue-position"),
                ),
                eta_text(job),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            rx.cond(
                active,
                rx.hstack(
                    rx.progress(value=job["progress"].to(int), max=100, flex="1", aria_label="Build progress of " + job["websiteName"].to(str)),
                    rx.text(job["progress"].to(int), "%", size="1", color_scheme="gray", width="2.5rem", text_align="right"),
                    width="100%",
                    align="center",
                ),
            ),
            rx.text(job["currentStep"], size="2", color_scheme="gray", class_name="current-step"),
            rx.cond(
                job["error"],
                rx.text(rx.icon("triangle-alert", size=13, display="inline", vertical_align="-2px"), " ",
                        job["error"].to(str).split("\n")[0], " ", first_error_detail(job),
                        size="2", color_scheme="red", class_name="job-error", trim="both"),
            ),
            rx.flex(
                timestamps(job),
                rx.spacer(),
                rx.hstack(
                    link(rx.button(rx.icon("scroll-text", size=14), "View logs", size="1", variant="soft", color_scheme="gray"),
                         href="/jobs/" + job["id"].to(str), class_name="view-logs"),
                    rx.cond(
                        active,
                        rx.button(rx.icon("square", size=14), "Cancel", size="1", variant="soft", color_scheme="red", high_contrast=True,
                                  on_click=JobState.cancel(job["id"].to(int)), class_name="cancel-job"),
                    ),
                    rx.cond(
                        job["previewUrl"],
                        link(rx.button(rx.icon("external-link", size=14), "View website", size="1", class_name="view-website"),
                             href=job["previewUrl"].to(str), is_external=True),
                    ),
                    rx.cond(
                        (job["status"] == "failed") | (job["status"] == "cancelled"),
                        rx.button(rx.icon("rotate-ccw", size=14), "Retry build", size="1",
                                  on_click=JobState.retry(job["id"].to(int)), class_name="retry-job"),
                    ),
                    spacing="2",
                ),
                width="100%",
                align="center",
                spacing="2",
                wrap="wrap",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="job-card",
        data_status=job["status"],
        data_job_id=job["id"],
    )
