"""Status → coloured badge with its lucide icon, through rx.match: a job's, or a delivery's.

Badges are high-contrast: Radix's soft green, amber and orange text is under 4.5:1 at badge sizes."""

import reflex as rx

from webbuilder_app.styles import DELIVERY_LOOK, STATUS_COLOR, STATUS_ICON


def status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        *[
            (name, rx.badge(rx.icon(STATUS_ICON[name], size=14), name, color_scheme=color, size="2", variant="soft", high_contrast=True))
            for name, color in STATUS_COLOR.items()
        ],
        rx.badge(status, size="2"),
    )


def delivery_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        *[
            (name, rx.badge(rx.icon(icon, size=14), name, color_scheme=color, size="2", variant="soft", high_contrast=True,
                             class_name="delivery-status"))
            for name, (icon, color) in DELIVERY_LOOK.items()
        ],
        rx.badge(status, size="2", class_name="delivery-status"),
    )
