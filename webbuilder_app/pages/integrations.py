"""Integrations: webhooks and email notifications for builds that complete or fail."""

import reflex as rx

from webbuilder_app.components.layout import signed_in_page
from webbuilder_app.components.shown_once import shown_once
from webbuilder_app.components.status import delivery_badge
from webbuilder_app.state.integrations import IntegrationsState


def secret_callout() -> rx.Component:
    return shown_once(
        IntegrationsState.secret_shown, "webhook-secret", "signing secret",
        rx.text("Each request carries X-Webbuilder-Signature: sha256=HMAC(secret, timestamp + \".\" + body); "
                "the README shows how to verify it.", size="2"),
    )


def webhook_row(hook: rx.Var) -> rx.Component:
    hook_id = hook["id"].to(int)
    return rx.table.row(
        rx.table.cell(rx.code(hook["url"].to(str), variant="ghost"), max_width="28rem", overflow_wrap="anywhere"),
        rx.table.cell(rx.switch(checked=hook["enabled"].to(bool), on_change=lambda on: IntegrationsState.set_webhook_enabled(hook_id, on),
                                aria_label="Enabled: " + hook["url"].to(str))),
        rx.table.cell(
            rx.hstack(
                rx.button(rx.icon("send", size=14), "Send test", variant="soft", size="1", on_click=IntegrationsState.send_test(hook_id), class_name="send-test"),
                rx.button("Remove", color_scheme="red", variant="soft", high_contrast=True, size="1", on_click=IntegrationsState.remove_webhook(hook_id)),
                spacing="2",
            )
        ),
        class_name="webhook-row",
    )


def webhooks_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.icon("webhook", size=18), rx.heading("Webhooks", size="4"), align="center"),
            rx.text("A signed JSON POST to each URL when one of your builds completes or fails; failed deliveries "
                    "are retried for about half an hour.", color_scheme="gray", size="2"),
            rx.form(
                rx.el.label("Webhook URL", html_for="webhook-url", class_name="field-label"),
                rx.hstack(
                    rx.input(placeholder="https://example.com/hooks/webbuilder", name="url", id="webhook-url", type="url", flex="1", max_length=2000),
                    rx.button(rx.icon("plus", size=16), "Add webhook", type="submit", id="add-webhook"),
                    width="100%",
                ),
                on_submit=IntegrationsState.add_webhook,
                reset_on_submit=True,
                width="100%",
            ),
            rx.cond(IntegrationsState.webhook_error != "",
                    rx.callout(IntegrationsState.webhook_error, icon="triangle-alert", color_scheme="red", width="100%")),
            secret_callout(),
            rx.cond(
                IntegrationsState.webhooks.length() > 0,
                rx.table.root(
                    rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in ("URL", "Enabled", "")])),
                    rx.table.body(rx.foreach(IntegrationsState.webhooks, webhook_row)),
                    width="100%",
                ),
                rx.text("No webhooks yet.", color_scheme="gray", size="2"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def email_status() -> rx.Component:
    """Whether the saved address is confirmed: build emails go only to a confirmed one."""
    address = rx.code(IntegrationsState.saved_email, variant="ghost")
    return rx.cond(
        IntegrationsState.saved_email != "",
        rx.cond(
            IntegrationsState.email_verified,
            rx.hstack(rx.badge("verified", color_scheme="green", high_contrast=True), rx.text("Build emails go to ", address, ".", size="2"),
                      align="center", id="email-status"),
            rx.hstack(
                rx.badge("unverified", color_scheme="amber", high_contrast=True),
                rx.text(
                    rx.cond(IntegrationsState.confirmation_sent,
                            "Check your inbox: confirm ", "No confirmation link is waiting: send one to confirm "),
                    address, " and build emails start.",
                    size="2",
                ),
                rx.button("Resend", on_click=IntegrationsState.resend_confirmation, variant="soft", size="1",
                          disabled=~IntegrationsState.email_available, id="resend-confirmation"),
                align="center",
                wrap="wrap",
                id="email-status",
            ),
        ),
    )


def email_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.icon("mail", size=18), rx.heading("Email", size="4"), align="center"),
            rx.text("An email when one of your builds completes or fails, with the site's address or the error. "
                    "A new address is mailed a link first: nothing else goes to it until you confirm it.",
                    color_scheme="gray", size="2"),
            rx.cond(~IntegrationsState.email_available,
                    rx.callout("This server has no mail server configured (WEBBUILDER_SMTP_HOST), so no emails are sent.",
                               icon="info", color_scheme="gray", width="100%")),
            rx.box(
                rx.el.label("Email address", html_for="notify-email", class_name="field-label"),
                rx.hstack(
                    rx.input(placeholder="you@example.com", value=IntegrationsState.email, on_change=IntegrationsState.set_email,
                             id="notify-email", type="email", flex="1", max_length=254),
                    rx.el.label(
                        rx.hstack(
                            rx.switch(checked=IntegrationsState.email_notifications, on_change=IntegrationsState.set_email_notifications,
                                      id="email-notifications"),
                            rx.text("Email me", size="2"),
                            align="center",
                        )
                    ),
                    rx.button("Save", on_click=IntegrationsState.save_email, id="save-email"),
                    align="center",
                    width="100%",
                ),
                width="100%",
            ),
            email_status(),
            rx.cond(IntegrationsState.email_error != "",
                    rx.callout(IntegrationsState.email_error, icon="triangle-alert", color_scheme="red", width="100%")),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def delivery_row(delivery: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.moment(delivery["createdAt"].to(str), from_now=True, interval=30_000)),
        rx.table.cell(delivery["event"].to(str)),
        rx.table.cell(rx.text(delivery["target"].to(str), size="2", color_scheme="gray"), max_width="20rem", overflow_wrap="anywhere"),
        rx.table.cell(delivery_badge(delivery["status"].to(str))),
        rx.table.cell(delivery["attempts"].to(str)),
        rx.table.cell(
            rx.cond(
                delivery["error"],
                rx.text(delivery["error"].to(str), size="2", color_scheme="red"),
                rx.text(delivery["responseCode"].to(str), size="2"),
            ),
        ),
        class_name="delivery-row",
    )


def deliveries_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Recent deliveries", size="4"),
                rx.spacer(),
                rx.icon_button(rx.icon("refresh-cw", size=14), on_click=IntegrationsState.refresh, variant="ghost", size="1", id="refresh-deliveries",
                               aria_label="Refresh the deliveries"),
                align="center",
                width="100%",
            ),
            rx.cond(
                IntegrationsState.deliveries.length() > 0,
                rx.table.root(
                    rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in ("When", "Event", "To", "Status", "Attempts", "Answer")])),
                    rx.table.body(rx.foreach(IntegrationsState.deliveries, delivery_row)),
                    width="100%",
                ),
                rx.text("Nothing sent yet.", color_scheme="gray", size="2"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


@signed_in_page("/integrations", "Integrations", on_load=[IntegrationsState.load])
def integrations_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Integrations", size="5"),
        rx.text("Hear about finished builds outside this page: webhooks for your own tools, email for you.",
                color_scheme="gray", size="2"),
        webhooks_card(),
        email_card(),
        deliveries_card(),
        spacing="4",
        width="100%",
    )
