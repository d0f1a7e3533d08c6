"""The bell with its unread count and the panel of the last 50 notifications."""

import reflex as rx

from webbuilder_app.state.feed import NotificationFeedState
from webbuilder_app.state.notifications import NotificationState

NOTE_LOOK = {  # notification type → (lucide icon, Radix colour)
    "queued": ("list", "blue"),
    "started": ("hammer", "amber"),
    "completed": ("circle-check", "green"),
    "failed": ("circle-x", "red"),
    "cancelled": ("ban", "gray"),
}


def _note_icon(kind: rx.Var) -> rx.Component:
    return rx.match(
        kind,
        *[(name, rx.icon(icon, size=16, color=f"var(--{color}-10)")) for name, (icon, color) in NOTE_LOOK.items()],
        rx.icon("bell", size=16, color="var(--gray-10)"),
    )


def _item(note: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.box(_note_icon(note["type"]), padding_top="2px"),
        rx.vstack(
            rx.text(note["title"], weight=rx.cond(note["read"], "regular", "bold"), size="2"),
            rx.cond(note["message"], rx.text(note["message"], size="1", color_scheme="gray", trim="both")),
            rx.moment(note["createdAt"], from_now=True, interval=30_000, font_size="11px", color="var(--gray-11)"),
            spacing="1",
            align="start",
            flex="1",
            min_width="0",
        ),
        rx.cond(
            note["read"],
            rx.box(width="8px"),
            rx.box(width="8px", height="8px", border_radius="50%", background="var(--accent-9)", margin_top="6px", class_name="unread-dot"),
        ),
        on_click=NotificationState.open(note["id"]),
        cursor="pointer",
        padding="0.6rem",
        border_radius="6px",
        _hover={"background": "var(--gray-a3)"},
        class_name="notification-item",
        data_read=note["read"].to(str),
        width="100%",
        align="start",
        spacing="3",
    )


def bell() -> rx.Component:
    return rx.popover.root(
        rx.popover.trigger(
            rx.button(
                rx.icon("bell", size=18),
                rx.cond(
                    NotificationFeedState.unread_count > 0,
                    rx.badge(NotificationFeedState.unread_count, color_scheme="red", variant="solid", high_contrast=True, radius="full", size="1",
                             id="unread-count"),  # white on red-9 is under 4.5:1
                ),
                variant="ghost",
                size="2",
                id="bell",
                # The name holds the count the button shows.
                aria_label=rx.cond(NotificationFeedState.unread_count > 0,
                                   "Notifications: " + NotificationFeedState.unread_count.to_string() + " unread", "Notifications"),
            )
        ),
        rx.popover.content(
            rx.vstack(
                rx.hstack(
                    rx.heading("Notifications", size="3"),
                    rx.spacer(),
                    rx.button(rx.icon("check-check", size=14), "Mark all as read", size="1", variant="soft",
                              on_click=NotificationState.mark_all_read, id="mark-all-read", disabled=NotificationFeedState.unread_count == 0),
                    width="100%",
                    align="center",
                ),
                rx.scroll_area(
                    rx.cond(
                        NotificationFeedState.notifications.length() > 0,
                        rx.vstack(rx.foreach(NotificationFeedState.notifications, _item), spacing="1", width="100%"),
                        rx.center(
                            rx.vstack(rx.icon("bell-off", color="var(--gray-9)"), rx.text("No notifications yet.", size="2", color_scheme="gray"), align="center"),
                            padding="2rem",
                        ),
                    ),
                    max_height="26rem",
                    type="auto",
                    scrollbars="vertical",
                ),
                rx.divider(),
                rx.button(rx.icon("monitor", size=14), "Desktop notifications", size="1", variant="ghost",
                          on_click=NotificationState.enable_desktop, id="enable-desktop"),
                spacing="2",
                width="100%",
            ),
            width="24rem",
            id="notification-panel",
            aria_label="Notifications",
        ),
    )
