"""Status → coloured badge with its lucide icon, through rx.match."""

import reflex as rx

from webbuilder_app.styles import STATUS_COLOR, STATUS_ICON


def status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        *[
            (name, rx.badge(rx.icon(STATUS_ICON[name], size=14), name, color_scheme=color, size="2", variant="soft"))
            for name, color in STATUS_COLOR.items()
        ],
        rx.badge(status, size="2"),
    )
