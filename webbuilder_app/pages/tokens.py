"""API tokens: for CI pipelines and scripts using the HTTP API or the `webbuilder` command."""

import reflex as rx

from webbuilder_app.components.layout import signed_in_page
from webbuilder_app.components.shown_once import copy_of, shown_once
from webbuilder_app.state.tokens import TokensState


def created_callout() -> rx.Component:
    return shown_once(
        TokensState.token_shown, "created-token", "token",
        rx.text("In a CI pipeline, with WEBBUILDER_URL set to this site's address:", size="2"),
        rx.el.pre(
            rx.el.code("export WEBBUILDER_TOKEN=", copy_of("created-token"), '\nwebbuilder submit ./my-site --name "My site" --wait'),
            class_name="usage-snippet",
        ),
    )


def token_row(token: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(token["name"].to(str)),
        rx.table.cell(token["createdAt"].to(str)),
        rx.table.cell(rx.cond(token["lastUsedAt"], token["lastUsedAt"].to(str), "never")),
        rx.table.cell(rx.button("Revoke", color_scheme="red", variant="soft", high_contrast=True, size="1", on_click=TokensState.revoke(token["id"].to(int)))),
        class_name="token-row",
    )


@signed_in_page("/tokens", "API tokens", on_load=[TokensState.load])
def tokens_page() -> rx.Component:
    return rx.vstack(
        rx.heading("API tokens", size="5"),
        rx.text("Tokens let scripts and CI pipelines use the API and the webbuilder command as you. "
                "Revoke a token you no longer need.", color_scheme="gray", size="2"),
        rx.form(
            rx.el.label("Token name", html_for="token-name", class_name="field-label"),
            rx.hstack(
                rx.input(placeholder="What is it for? e.g. github-actions", name="name", id="token-name", flex="1", max_length=100),
                rx.button(rx.icon("plus", size=16), "Create token", type="submit", id="create-token"),
                width="100%",
            ),
            on_submit=TokensState.create,
            reset_on_submit=True,
            width="100%",
        ),
        rx.cond(TokensState.token_error != "", rx.callout(TokensState.token_error, icon="triangle-alert", color_scheme="red", width="100%")),
        created_callout(),
        rx.cond(
            TokensState.tokens.length() > 0,
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in ("Name", "Created", "Last used", "")])),
                rx.table.body(rx.foreach(TokensState.tokens, token_row)),
                width="100%",
            ),
            rx.text("No API tokens yet.", color_scheme="gray", size="2"),
        ),
        spacing="4",
        width="100%",
    )
