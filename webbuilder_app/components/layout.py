"""The page template: header with navigation, notification bell, theme switch and user menu."""

from collections.abc import Callable

import reflex as rx

from webbuilder_app.components.link import link
from webbuilder_app.components.notifications import bell
from webbuilder_app.state.auth import AuthState
from webbuilder_app.state.feed import NotificationFeedState

# (label, href, lucide icon) for every signed-in user; add pages here.
NAV_LINKS = [("My websites", "/", "layout-list"), ("Integrations", "/integrations", "webhook"), ("API tokens", "/tokens", "key-round")]
ADMIN_NAV_LINKS = [("Ops", "/ops", "activity")]


def _nav_link(label: str, href: str, icon: str) -> rx.Component:
    return link(rx.hstack(rx.icon(icon, size=15), rx.text(label, size="2"), align="center", spacing="1"),
                href=href, color_scheme="gray", high_contrast=True, underline="hover", class_name="nav-link")


def header() -> rx.Component:
    return rx.hstack(
        link(rx.hstack(rx.icon("boxes", size=22, color="var(--accent-9)"), rx.heading("webbuilder", size="5"), align="center"),
             href="/", underline="none", color_scheme="gray", high_contrast=True),
        rx.spacer(),
        *[_nav_link(*nav) for nav in NAV_LINKS],
        rx.cond(AuthState.is_admin, rx.hstack(*[_nav_link(*nav) for nav in ADMIN_NAV_LINKS], spacing="4")),
        bell(),
        rx.color_mode.button(size="2", variant="ghost", id="theme-toggle", aria_label="Switch between light and dark theme"),
        rx.menu.root(
            rx.menu.trigger(rx.button(rx.icon("circle-user", size=16), AuthState.username, variant="soft", size="2", id="user-menu")),
            rx.menu.content(
                rx.text(rx.cond(AuthState.is_admin, "Signed in as an admin", "Signed in"), size="1", color_scheme="gray", padding="0.25rem 0.75rem"),
                rx.menu.separator(),
                rx.menu.item(rx.icon("user-cog", size=14), "Account and sessions", on_click=rx.redirect("/account"), id="account-link"),
                rx.menu.item(rx.icon("log-out", size=14), "Sign out", on_click=AuthState.logout, id="sign-out"),
            ),
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
                size="4",
                padding_x="1rem",
            )

        rx.page(route=route, title=f"{title} · webbuilder", on_load=[NotificationFeedState.link, *(on_load or [])])(page)
        return page

    return decorator
