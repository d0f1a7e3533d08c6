"""The build's step timeline: extract → install → type check → build → publish."""

import reflex as rx

from webbuilder_app.styles import STEP_LOOK


def _step_icon(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        *[
            (name, rx.spinner(size="2") if name == "running" else rx.icon(icon, size=20, color=f"var(--{color}-10)"))
            for name, (icon, color) in STEP_LOOK.items()
        ],
        rx.icon("circle-dashed", size=20, color="var(--gray-9)"),
    )


def _step(step: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.hstack(_step_icon(step["status"]), rx.text(step["label"], weight="medium", size="2"), align="center", spacing="2"),
        rx.text(rx.cond(step["duration"] != "", step["duration"], step["status"]), size="1", color_scheme="gray", class_name="step-duration"),
        rx.cond(
            step["cache"] != "",
            rx.tooltip(
                rx.badge(rx.icon("database", size=12), "cache ", step["cache"], size="1", variant="soft", high_contrast=True,
                         color_scheme=rx.cond(step["cache"] == "hit", "green", "orange"), class_name="cache-badge"),
                content=step["cacheReason"],
            ),
        ),
        spacing="1",
        align="start",
        flex="1",
        min_width="7rem",
        padding="0.75rem",
        border_radius="8px",
        background=rx.match(step["status"], ("running", "var(--amber-a3)"), ("failed", "var(--red-a3)"), "var(--gray-a2)"),
        class_name="step-row",
        data_step=step["name"],
        data_status=step["status"],
    )


def step_timeline(steps: rx.Var) -> rx.Component:
    return rx.flex(rx.foreach(steps, _step), spacing="2", width="100%", wrap="wrap", id="steps")
