"""A secret the server keeps only hashed (an API token, a webhook's signing secret): shown once, right
after it is made, with a copy button and what to do with it."""

import reflex as rx


def shown_once(secret: rx.Var, element_id: str, what: str, *usage: rx.Component) -> rx.Component:
    return rx.cond(
        secret != "",
        rx.callout(
            rx.vstack(
                rx.text(f"Copy this {what} now; it is not shown again.", weight="medium"),
                rx.hstack(
                    rx.code(secret, id=element_id, size="3"),
                    rx.icon_button(rx.icon("copy", size=14), on_click=rx.set_clipboard(secret), size="1", variant="soft"),
                    align="center",
                ),
                *usage,
                width="100%",
            ),
            icon="key-round",
            color_scheme="green",
            width="100%",
        ),
    )
