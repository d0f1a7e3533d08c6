"""The page template: header with the queue link, notification bell and user menu."""

from collections.abc import Callable

import reflex as rx

from webbuilder_app.components.notifications import bell
from webbuilder_app.state.auth import AuthState
from webbuilder_app.state.feed import FeedState
from webbuilder_app.styles import PAGE_MAX_WIDTH


def header() -> rx.Component:
    return rx.hstack(
        rx.link(rx.hstack(rx.icon("boxes", size=22), rx.heading("webbuilder", size="5"), align="center"), href="/", underline="none"),
        rx.spacer(),
        rx.link("Upload & queue", href="/", size="2"),
        bell(),
        rx.color_mode.button(size="2", variant="ghost"),
        rx.menu.root(
            rx.menu.trigger(rx.button(rx.icon("user", size=16), AuthState.username, variant="soft", size="2", id="user-menu")),
            rx.menu.content(rx.menu.item("Sign out", on_click=AuthState.logout, id="sign-out")),
        ),
        width="100%",
        align="center",
        spacing="4",
        padding_y="0.75rem",
    )


def signed_in_page(route: str, title: str, on_load: list | None = None) -> Callable:
    """Register a page that needs a signed-in user and shows the live feed."""

    def decorator(content: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        def page() -> rx.Component:
            return rx.container(
                header(),
                rx.divider(),
                rx.box(content(), padding_y="1.5rem", width="100%"),
                max_width=PAGE_MAX_WIDTH,
                padding_x="1rem",
            )

        rx.page(route=route, title=f"{title} · webbuilder", on_load=[FeedState.link, *(on_load or [])])(page)
        return page

    return decorator
