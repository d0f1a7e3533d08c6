"""One website: its live address, its deployments (promote, roll back, redeploy without cache), a new
version, its settings and its deletion, all following changes made elsewhere without a reload."""

import reflex as rx

from webbuilder_app.components.deploy_dialog import deploy_button, deploy_dialog
from webbuilder_app.components.layout import signed_in_page
from webbuilder_app.components.link import link
from webbuilder_app.components.status import status_badge
from webbuilder_app.components.website_card import address, deployment_count
from webbuilder_app.state.websites import WebsiteFeedState, WebsiteState


def _when(label: str, moment: rx.Var) -> rx.Component:
    return rx.text(label, rx.moment(moment.to(str), from_now=True, interval=30_000), size="1", color_scheme="gray")


def _make_live_button(deployment: rx.Var) -> rx.Component:
    """Promote a newer deployment, roll back to an older one: only a completed one whose files are kept."""
    website = WebsiteFeedState.website
    is_older = deployment["jobId"].to(int) < website["liveJobId"].to(int)
    return rx.cond(
        (deployment["status"] == "completed") & ~deployment["live"].to(bool) & ~deployment["retired"].to(bool),
        rx.button(
            rx.cond(is_older, rx.icon("undo-2", size=14), rx.icon("circle-arrow-up", size=14)),
            rx.cond(is_older, "Roll back to this", "Promote"),
            size="1",
            variant="soft",
            on_click=WebsiteState.ask_promote(deployment["jobId"].to(int)),
            class_name="make-live",
        ),
    )


def deployment_row(deployment: rx.Var) -> rx.Component:
    job_page = "/jobs/" + deployment["jobId"].to(str)
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.hstack(
                    link(rx.text("#", deployment["jobId"].to(str), weight="bold"), href=job_page, size="2", class_name="deployment-id"),
                    status_badge(deployment["status"]),
                    rx.cond(deployment["live"], rx.badge(rx.icon("radio", size=12), "Live", color_scheme="green", variant="solid", high_contrast=True, size="2",
                                                         class_name="live-badge")),
                    rx.cond(deployment["retired"], rx.badge(rx.icon("archive", size=12), "Retired", color_scheme="gray", variant="outline",
                                                            size="2", class_name="retired-badge")),
                    rx.text(deployment["message"].to(str), size="2", class_name="deployment-message", trim="both"),
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
                rx.hstack(
                    _when("Created ", deployment["createdAt"]),
                    rx.cond(deployment["completedAt"], _when("· Finished ", deployment["completedAt"])),
                    rx.cond(
                        deployment["promotedAt"],
                        rx.text("· Made live ", rx.cond(deployment["promotedBy"] == "auto-publish", "by auto-publish ",
                                                       rx.text.span("by ", deployment["promotedBy"].to(str), " ")),
                                rx.moment(deployment["promotedAt"].to(str), from_now=True, interval=30_000),
                                size="1", color_scheme="gray", class_name="promoted"),
                    ),
                    spacing="1",
                    wrap="wrap",
                ),
                rx.cond(
                    deployment["retired"],
                    rx.text("Its files were deleted: only the newest deployments keep theirs.", size="1", color_scheme="gray"),
                    rx.cond(deployment["previewUrl"],
                            link(deployment["previewUrl"].to(str), href=deployment["previewUrl"].to(str), is_external=True, size="1",
                                 class_name="deployment-url")),
                ),
                rx.cond(deployment["error"], rx.text(deployment["error"].to(str), size="1", color_scheme="red", class_name="deployment-error")),
                spacing="1",
                align="start",
                flex="1",
                min_width="0",
            ),
            rx.hstack(
                _make_live_button(deployment),
                link("Build log", href=job_page, size="1", color_scheme="gray", class_name="deployment-log"),
                align="center",
                spacing="3",
            ),
            width="100%",
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        width="100%",
        class_name="deployment-row",
        data_job_id=deployment["jobId"],
        data_status=deployment["status"],
        data_live=deployment["live"].to(str),
    )


def promote_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Make deployment #", WebsiteState.promoting.to(str), " live?"),
            rx.alert_dialog.description(
                WebsiteFeedState.website["url"].to(str), " will serve it at once, without a rebuild. The deployment live now stays in "
                "the history: you can make it live again the same way.",
                size="2",
            ),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.button("Make it live", on_click=WebsiteState.promote, id="confirm-make-live"),  # closes it when done
                spacing="3",
                justify="end",
                margin_top="1rem",
            ),
            id="make-live-dialog",
        ),
        open=WebsiteState.promoting != 0,
        on_open_change=WebsiteState.set_promote_open,
    )


def _labelled(label: str, field: rx.Component, hint: str = "") -> rx.Component:
    return rx.el.label(
        rx.text(label, size="2", weight="medium"),
        field,
        *([rx.text(hint, size="1", color_scheme="gray")] if hint else []),
        display="flex",
        flex_direction="column",
        gap="0.25rem",
        flex="1",
        min_width="14rem",
    )


def settings_card() -> rx.Component:
    website = WebsiteFeedState.website
    return rx.card(
        rx.vstack(
            rx.heading("Settings", size="4"),
            rx.form(
                rx.flex(
                    _labelled("Name", rx.input(name="name", default_value=website["name"].to(str), id="website-name", size="2")),
                    _labelled("Address", rx.input(name="slug", default_value=website["slug"].to(str), id="website-slug", size="2"),
                              "The part before the domain. The old address keeps redirecting to the new one."),
                    rx.button(rx.icon("save", size=14), "Save", type="submit", id="save-settings", margin_top="1.5rem"),
                    spacing="3",
                    wrap="wrap",
                    align="start",
                    width="100%",
                ),
                on_submit=WebsiteState.save_settings,
                # Re-mounted with the saved values when they change (here or in another tab).
                key=website["name"].to(str) + "\n" + website["slug"].to(str),
                width="100%",
            ),
            rx.cond(WebsiteState.settings_error != "",
                    rx.callout(WebsiteState.settings_error, icon="triangle-alert", color_scheme="red", id="settings-error", width="100%")),
            rx.el.label(
                rx.switch(checked=website["autoPublish"].to(bool), on_change=WebsiteState.set_auto_publish, id="auto-publish"),
                rx.vstack(
                    rx.text("Auto-publish", size="2", weight="medium"),
                    rx.text("A deployment that builds goes live at once. Off: it waits for Promote.", size="1", color_scheme="gray"),
                    spacing="0",
                ),
                display="flex",
                align_items="center",
                gap="0.75rem",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def delete_card() -> rx.Component:
    name = WebsiteFeedState.website["name"].to(str)
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.heading("Delete this website", size="4"),
                rx.text("Its addresses stop answering and every deployment's files are deleted.", size="2", color_scheme="gray"),
                spacing="1",
            ),
            rx.spacer(),
            rx.alert_dialog.root(
                rx.alert_dialog.trigger(rx.button(rx.icon("trash-2", size=14), "Delete website", color_scheme="red", variant="soft",
                                                  id="delete-website")),
                rx.alert_dialog.content(
                    rx.alert_dialog.title("Delete ", name, "?"),
                    rx.alert_dialog.description("This takes ", WebsiteFeedState.website["url"].to(str),
                                                " down and deletes the files of all its deployments. It cannot be undone.", size="2"),
                    rx.el.label(
                        rx.text("Type ", rx.code(name), " to confirm", size="2"),
                        rx.input(value=WebsiteState.delete_typed, on_change=WebsiteState.set_delete_typed, id="delete-confirm", auto_complete="off"),
                        display="flex",
                        flex_direction="column",
                        gap="0.4rem",
                        margin_top="1rem",
                    ),
                    rx.cond(WebsiteState.delete_error != "",
                            rx.callout(WebsiteState.delete_error, icon="triangle-alert", color_scheme="red", id="delete-error", margin_top="0.75rem")),
                    rx.flex(
                        rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                        # Not an alert_dialog.action: the dialog stays open should the service refuse.
                        rx.button("Delete for good", color_scheme="red", on_click=WebsiteState.delete_website,
                                  disabled=WebsiteState.delete_typed.strip() != name, id="confirm-delete"),
                        spacing="3",
                        justify="end",
                        margin_top="1rem",
                    ),
                ),
                open=WebsiteState.deleting,
                on_open_change=WebsiteState.set_delete_open,
            ),
            width="100%",
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        width="100%",
        style={"border_left": "3px solid var(--red-9)"},
    )


def website_view() -> rx.Component:
    website = WebsiteFeedState.website
    name = website["name"].to(str)
    return rx.vstack(
        link(rx.hstack(rx.icon("arrow-left", size=14), rx.text("My websites", size="2"), align="center", spacing="1"),
             href="/", color_scheme="gray"),
        rx.flex(
            rx.hstack(
                rx.heading(name, size="7", id="website-title"),
                rx.cond(website["lastStatus"], status_badge(website["lastStatus"])),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.spacer(),
            rx.hstack(
                rx.button(rx.icon("refresh-cw-off", size=16), "Redeploy without cache", variant="soft", color_scheme="gray",
                          on_click=WebsiteState.redeploy, id="redeploy"),
                deploy_button(website["id"].to(int), id="deploy-version"),
                spacing="2",
                wrap="wrap",
            ),
            width="100%",
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        rx.card(
            rx.vstack(
                rx.text("Live address", size="1", color_scheme="gray", weight="medium"),
                address(website["url"].to(str), name, website["liveJobId"].to(bool), id="live-address"),
                rx.cond(website["liveJobId"], rx.text("Serving deployment #", website["liveJobId"].to(str), size="1", color_scheme="gray",
                                                      id="live-deployment")),
                spacing="1",
            ),
            width="100%",
        ),
        rx.hstack(
            rx.heading("Deployments", size="5"),
            rx.text(deployment_count(website["deploymentCount"].to(int)), size="2", color_scheme="gray"),
            align="baseline",
            spacing="2",
        ),
        rx.vstack(rx.foreach(WebsiteFeedState.deployments, deployment_row), width="100%", spacing="2", id="deployments"),
        settings_card(),
        delete_card(),
        promote_dialog(),
        deploy_dialog(),
        spacing="4",
        width="100%",
        id="website-view",
    )


def not_found() -> rx.Component:
    return rx.callout("Website not found: it does not exist, was deleted, or belongs to someone else.", icon="search-x", color_scheme="gray",
                      id="website-not-found")


@signed_in_page("/websites/[website_id]", "Website", on_load=[WebsiteState.load])
def website_page() -> rx.Component:
    return rx.cond(
        WebsiteState.not_found | WebsiteFeedState.deleted,
        not_found(),
        rx.cond(
            WebsiteFeedState.website["id"].to(int) == WebsiteState.viewing_id,  # not a previously opened website
            website_view(),
            rx.center(rx.spinner(size="3"), padding="4rem"),
        ),
    )
