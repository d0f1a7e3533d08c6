"""The bell with its unread count and the panel of the last notifications."""

import reflex as rx

from webbuilder_app.state.feed import FeedState
from webbuilder_app.state.notifications import NotificationState


def _item(note: rx.Var) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.cond(note["read"], rx.box(width="8px"), rx.box(width="8px", height="8px", border_radius="50%", background="var(--accent-9)")),
            rx.vstack(
                rx.text(note["title"], weight="medium", size="2"),
                rx.text(note["message"], size="1", color_scheme="gray"),
                rx.moment(note["createdAt"], from_now=True, size="1", color="var(--gray-10)"),
                spacing="0",
                align="start",
            ),
            align="start",
            spacing="2",
        ),
        on_click=NotificationState.open(note["id"]),
        cursor="pointer",
        padding="0.5rem",
        border_radius="6px",
        _hover={"background": "var(--gray-a3)"},
        class_name="notification-item",
        width="100%",
    )


def bell() -> rx.Component:
    return rx.popover.root(
        rx.popover.trigger(
            rx.button(
                rx.icon("bell", size=18),
                rx.cond(FeedState.unread_count > 0, rx.badge(FeedState.unread_count, color_scheme="red", id="unread-count")),
                variant="ghost",
                size="2",
                id="bell",
            )
        ),
        rx.popover.content(
            rx.hstack(
                rx.heading("Notifications", size="3"),
                rx.spacer(),
                rx.button("Mark all as read", size="1", variant="soft", on_click=NotificationState.mark_all_read, id="mark-all-read"),
                width="100%",
                align="center",
            ),
            rx.scroll_area(
                rx.cond(
                    FeedState.notifications.length() > 0,
                    rx.vstack(rx.foreach(FeedState.notifications, _item), spacing="1", width="100%"),
                    rx.text("Nothing yet.", size="2", color_scheme="gray"),
                ),
                max_height="24rem",
                type="auto",
            ),
            width="22rem",
        ),
    )
