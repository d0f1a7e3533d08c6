"""Confirm an address for build emails: the page the confirmation email links to (no sign-in needed)."""

import reflex as rx

from webbuilder_app.components.link import link
from webbuilder_app.state.verify_email import VerifyEmailState
from workers.config import VERIFY_EMAIL_PATH


def _asking() -> rx.Component:
    return rx.vstack(
        rx.text("Build emails from webbuilder go to this address once you confirm it.", size="2"),
        rx.button("Confirm ", VerifyEmailState.address, on_click=VerifyEmailState.confirm, size="3", width="100%",
                  id="confirm-email"),
        width="100%",
    )


def _outcome() -> rx.Component:
    return rx.cond(
        VerifyEmailState.confirmed,
        rx.callout(rx.text("Confirmed: build emails go to ", rx.code(VerifyEmailState.address, high_contrast=True), " from now on."),
                   icon="circle_check", color_scheme="green", high_contrast=True, width="100%", id="email-confirmed"),
        rx.cond(
            VerifyEmailState.problem != "",
            rx.callout(VerifyEmailState.problem, icon="triangle_alert", color_scheme="red", width="100%", id="confirm-problem"),
            rx.cond(VerifyEmailState.address != "", _asking(), rx.spinner()),
        ),
    )


@rx.page(route=VERIFY_EMAIL_PATH, title="Confirm your email · webbuilder", on_load=VerifyEmailState.load)
def verify_email() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(rx.icon("mail_check", size=24), rx.heading("Confirm your email address", size="6"), align="center"),
                _outcome(),
                link("Open webbuilder", href="/", size="2"),
                spacing="4",
                width="100%",
            ),
            width="28rem",
            size="4",
        ),
        min_height="90vh",
    )
