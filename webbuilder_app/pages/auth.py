"""Sign-in and sign-up."""

import reflex as rx

from webbuilder_app.components.link import link
from webbuilder_app.state.auth import AuthState


def _form(title: str, button: str, on_submit, switch_text: str, switch_href: str, switch_label: str) -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.hstack(rx.icon("boxes", size=24), rx.heading(title, size="6"), align="center"),
                    rx.el.label("Username", html_for="username", class_name="field-label"),
                    rx.input(name="username", id="username", required=True, width="100%", size="3", auto_complete="username"),
                    rx.el.label("Password", html_for="password", class_name="field-label"),
                    rx.input(name="password", id="password", type="password", required=True, width="100%", size="3"),
                    rx.cond(AuthState.auth_error != "", rx.callout(AuthState.auth_error, icon="triangle-alert", color_scheme="red", width="100%")),
                    rx.button(button, type="submit", width="100%", size="3", id="submit"),
                    rx.text(switch_text, " ", link(switch_label, href=switch_href, underline="always"), size="2"),
                    spacing="4",
                    width="100%",
                ),
                on_submit=on_submit,
                reset_on_submit=False,
            ),
            width="24rem",
            size="4",
        ),
        min_height="90vh",
    )


@rx.page(route="/login", title="Sign in · webbuilder", on_load=AuthState.redirect_if_signed_in)
def login() -> rx.Component:
    return _form("Sign in", "Sign in", AuthState.login, "No account yet?", "/register", "Create one")


@rx.page(route="/register", title="Sign up · webbuilder", on_load=AuthState.redirect_if_signed_in)
def register() -> rx.Component:
    return _form("Create an account", "Sign up", AuthState.register, "Have an account?", "/login", "Sign in")
