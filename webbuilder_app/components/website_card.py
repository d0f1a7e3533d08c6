"""One website on the home page: its live address (copy, open), its last deployment's status and
time, a new version, and the way to its page. `address` is the live address line the page uses too."""

import reflex as rx

from webbuilder_app.components.deploy_dialog import deploy_button
from webbuilder_app.components.link import link
from webbuilder_app.components.status import status_badge


def address(url: rx.Var, name: rx.Var, is_live: rx.Var, **props) -> rx.Component:
    """The website's stable address with copy and open buttons; greyed until something is live."""
    return rx.hstack(
        rx.icon("globe", size=15, color=rx.cond(is_live, "var(--accent-9)", "var(--gray-8)")),
        rx.cond(
            is_live,
            link(url, href=url, is_external=True, size="2", weight="medium", class_name="website-url", trim="both"),
            rx.text(url, " · nothing is live yet", size="2", color_scheme="gray", class_name="website-url"),
        ),
        rx.icon_button(rx.icon("copy", size=13), size="1", variant="ghost", color_scheme="gray",
                       on_click=[rx.set_clipboard(url), rx.toast.info("Address copied", description=url)],
                       aria_label="Copy the address of " + name, class_name="copy-address"),
        rx.cond(
            is_live,
            rx.icon_button(
                rx.el.a(rx.icon("external-link", size=13), href=url, target="_blank", rel="noopener noreferrer"),
                as_child=True, size="1", variant="ghost", color_scheme="gray",
                aria_label="Open " + name + " in a new tab", class_name="open-address",
            ),
        ),
        align="center",
        spacing="2",
        min_width="0",
        **props,
    )


def deployment_count(count: rx.Var) -> rx.Var:
    return rx.cond(count == 1, "1 deployment", count.to(str) + " deployments")


def website_card(website: rx.Var) -> rx.Component:
    page = "/websites/" + website["id"].to(str)
    name = website["name"].to(str)
    return rx.card(
        rx.vstack(
            rx.hstack(
                link(rx.text(name, weight="bold", size="4", class_name="website-name"),
                     href=page, color_scheme="gray", high_contrast=True, underline="hover"),
                rx.cond(website["lastStatus"], status_badge(website["lastStatus"])),
                rx.spacer(),
                rx.text("Updated ", rx.moment(website["updatedAt"].to(str), from_now=True, interval=30_000), size="1", color_scheme="gray"),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            address(website["url"].to(str), name, website["liveJobId"].to(bool)),
            rx.flex(
                link(
                    rx.hstack(rx.icon("history", size=14), rx.text(deployment_count(website["deploymentCount"].to(int)), " · settings", size="2"),
                              align="center", spacing="1"),
                    href=page, size="2", class_name="website-page-link",
                ),
                rx.spacer(),
                deploy_button(website["id"].to(int), size="1", variant="soft", class_name="deploy-version"),
                width="100%",
                align="center",
                spacing="2",
                wrap="wrap",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="website-card",
        data_website_id=website["id"],
        data_status=website["lastStatus"],
    )
