"""*Deploy a new version*: a button on each website's card and page, and the one dialog it opens, with
its own drop zone (a .zip or a folder) and an optional message."""

import reflex as rx

from webbuilder_app.components.upload_zone import pick_folder_button, selected_count, selection_summary, send_selection, upload_feedback, upload_zone
from webbuilder_app.state.upload import DEPLOY_ID, UploadState


def deploy_button(website_id: rx.Var, **props) -> rx.Component:
    return rx.button(rx.icon("upload", size=14), "Deploy a new version", on_click=UploadState.open_deploy(website_id), **props)


def message_field(**props) -> rx.Component:
    """A deployment's optional one-line note (the intake checks its length)."""
    return rx.input(placeholder="Message (optional): what changed", aria_label="Message", size="3", **props)


def deploy_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Deploy a new version of ", UploadState.deploy_name),
            rx.dialog.description(
                "It gets an address of its own, and goes live at the website's address once it builds, unless auto-publish is off.",
                size="2",
                color_scheme="gray",
            ),
            rx.vstack(
                rx.hstack(rx.spacer(), pick_folder_button(DEPLOY_ID, "deploy-pick-folder"), width="100%"),
                upload_zone(DEPLOY_ID),
                rx.cond(
                    selected_count(DEPLOY_ID) > 0,
                    rx.hstack(
                        rx.icon("file-archive", size=16),
                        rx.text(selection_summary(DEPLOY_ID), size="2", id="deploy-selection"),
                        rx.icon_button(rx.icon("x", size=14), size="1", variant="ghost", color_scheme="gray",
                                       on_click=rx.clear_selected_files(DEPLOY_ID), aria_label="Clear selection"),
                        align="center",
                    ),
                ),
                message_field(value=UploadState.version_message, on_change=UploadState.set_version_message, id="version-message", width="100%"),
                upload_feedback(),
                rx.flex(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                    rx.button(
                        rx.icon("rocket", size=16),
                        "Deploy",
                        on_click=send_selection(DEPLOY_ID, UploadState.deploy_version),
                        disabled=UploadState.uploading | (selected_count(DEPLOY_ID) == 0),
                        loading=UploadState.uploading,
                        id="deploy-button",
                    ),
                    spacing="3",
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                width="100%",
                margin_top="1rem",
            ),
            id="deploy-dialog",
            max_width="36rem",
        ),
        open=UploadState.deploy_to != 0,
        on_open_change=UploadState.set_deploy_open,
    )
