"""Account: where you are signed in (sign out one session or all) and your password."""

import reflex as rx

from webbuilder_app.components.layout import signed_in_page
from webbuilder_app.state.account import AccountState


def session_row(session: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(session["client"].to(str), size="2"), rx.cond(session["current"].to(bool), rx.badge("this browser", color_scheme="green", high_contrast=True))),
        rx.table.cell(session["createdAt"].to(str)),
        rx.table.cell(rx.cond(session["lastUsedAt"], session["lastUsedAt"].to(str), "never")),
        rx.table.cell(rx.button("Sign out", color_scheme="red", variant="soft", high_contrast=True, size="1", white_space="nowrap",
                                on_click=AccountState.end_session(session["id"].to(int)))),
        class_name="session-row",
    )


def _password_field(label: str, name: str) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=name, class_name="field-label"),
        rx.input(name=name, id=name, type="password", required=True, width="100%"),
        spacing="1",
        width="100%",
    )


@signed_in_page("/account", "Account", on_load=[AccountState.load])
def account_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Where you are signed in", size="5"),
        rx.text("Sessions end by themselves after a while; API tokens are on their own page.", color_scheme="gray", size="2"),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in ("Browser or program", "Signed in", "Last used", "")])),
            rx.table.body(rx.foreach(AccountState.sessions, session_row)),
            width="100%",
        ),
        rx.button(rx.icon("log-out", size=16), "Sign out everywhere", color_scheme="red", variant="outline",
                  on_click=AccountState.end_everywhere, id="sign-out-everywhere"),
        rx.divider(),
        rx.heading("Change your password", size="5"),
        rx.form(
            rx.vstack(
                _password_field("Current password", "current_password"),
                _password_field("New password (at least 8 characters)", "new_password"),
                _password_field("New password again", "repeat_password"),
                rx.cond(AccountState.password_error != "",
                        rx.callout(AccountState.password_error, icon="triangle-alert", color_scheme="red", width="100%")),
                rx.button("Change password", type="submit", id="change-password"),
                spacing="3",
                max_width="24rem",
                width="100%",
            ),
            on_submit=AccountState.change_password,
            reset_on_submit=True,
            id="password-form",
        ),
        spacing="4",
        width="100%",
    )
