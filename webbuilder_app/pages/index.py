"""Home: My websites (a card each, with a new version's dialog), the upload of a new website, and My
Build Queue under them."""

import reflex as rx

from webbuilder_app.components.deploy_dialog import deploy_dialog, message_field
from webbuilder_app.components.job_card import job_card
from webbuilder_app.components.layout import signed_in_page
from webbuilder_app.components.upload_zone import pick_folder_button, selected_count, selection_summary, send_selection, upload_feedback, upload_zone
from webbuilder_app.components.website_card import website_card
from webbuilder_app.state.auth import AuthState
from webbuilder_app.state.feed import QueueFeedState, WebsitesFeedState
from webbuilder_app.state.upload import PRIORITIES, UPLOAD_ID, UploadState
from webbuilder_app.state.usage import UsageState
from workers.services.builds import MAX_PRIORITY


def priority_field() -> rx.Component:
    """Everyone picks Low/Normal/High; an admin types any priority (the server checks who may)."""
    return rx.cond(
        AuthState.is_admin,
        rx.tooltip(
            rx.input(
                rx.input.slot(rx.icon("arrow-up-down", size=14)),
                type="number", step=1, min=-MAX_PRIORITY, max=MAX_PRIORITY,
                default_value=UploadState.priority, on_change=UploadState.set_priority,
                id="priority", aria_label="Priority", width="8rem", size="3",
            ),
            content=f"Priority: higher builds sooner (Low −5, Normal 0, High 5; at most ±{MAX_PRIORITY})",
        ),
        rx.select(list(PRIORITIES), value=UploadState.priority_label, on_change=UploadState.set_priority_label, size="3", id="priority-label",
                  custom_attrs={"aria-label": "Priority"}),  # rx.select gives the trigger only custom_attrs
    )


def storage_usage() -> rx.Component:
    """What the user's sources and sites take of their storage quota (once read)."""
    return rx.cond(UsageState.storage_used != "", rx.hstack(
        rx.icon("hard-drive", size=14, color="var(--gray-9)"),
        rx.text(
            rx.cond(UsageState.storage_allowed != "", f"Storage: {UsageState.storage_used} of {UsageState.storage_allowed} used",
                    f"Storage: {UsageState.storage_used} used"),
            size="1", color_scheme="gray", id="storage-usage",
        ),
        rx.cond(UsageState.storage_allowed != "", rx.progress(value=UsageState.storage_percent, max=100, width="8rem", size="1", aria_label="Storage used")),
        align="center",
    ))


def upload_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.heading("Upload a website", size="4"), rx.spacer(), pick_folder_button(), width="100%", align="center"),
            upload_zone(),
            rx.cond(
                selected_count() > 0,
                rx.hstack(
                    rx.icon("file-archive", size=16),
                    rx.text(selection_summary(), size="2", id="selection"),
                    rx.icon_button(rx.icon("x", size=14), size="1", variant="ghost", color_scheme="gray",
                                   on_click=rx.clear_selected_files(UPLOAD_ID), aria_label="Clear selection"),
                    align="center",
                ),
            ),
            rx.flex(
                rx.input(placeholder="Website name", value=UploadState.site_name, on_change=UploadState.set_site_name,
                         id="site-name", aria_label="Website name", flex="1", min_width="14rem", size="3"),
                message_field(value=UploadState.message, on_change=UploadState.set_message, id="message", flex="1", min_width="14rem"),
                priority_field(),
                rx.button(
                    rx.icon("rocket", size=16),
                    "Upload and build",
                    on_click=send_selection(),
                    disabled=UploadState.uploading | (selected_count() == 0) | (UploadState.site_name.strip() == ""),
                    loading=UploadState.uploading,
                    id="upload-button",
                    size="3",
                ),
                width="100%",
                spacing="3",
                wrap="wrap",
            ),
            rx.cond(UploadState.deploy_to == 0, upload_feedback()),  # else the dialog shows it
            storage_usage(),
            spacing="3",
            width="100%",
        ),
        width="100%",
        size="3",
    )


def _empty(icon: str, text: str) -> rx.Component:
    return rx.center(
        rx.vstack(rx.icon(icon, size=28, color="var(--gray-8)"), rx.text(text, color_scheme="gray", size="2"), align="center", spacing="2"),
        padding="2rem",
        width="100%",
        border="1px dashed var(--gray-a6)",
        border_radius="10px",
    )


def websites_section() -> rx.Component:
    return rx.vstack(
        rx.heading("My websites", size="6"),
        rx.cond(
            WebsitesFeedState.websites.length() > 0,
            rx.grid(rx.foreach(WebsitesFeedState.websites, website_card), columns=rx.breakpoints(initial="1", md="2"), spacing="3",
                    width="100%", id="websites"),
            _empty("globe", "No websites yet. Upload a project below: it gets an address of its own."),
        ),
        width="100%",
        spacing="3",
    )


def queue_section() -> rx.Component:
    return rx.vstack(
        rx.heading("My Build Queue", size="6"),
        rx.heading("Active Builds (", QueueFeedState.active_count, ")", size="4", id="active-heading"),
        rx.cond(
            QueueFeedState.active_count > 0,
            rx.vstack(rx.foreach(QueueFeedState.active_jobs, job_card), width="100%", id="active-jobs"),
            _empty("hammer", "Nothing is building. Upload a project above."),
        ),
        rx.heading("Recent Builds", size="4", margin_top="0.5rem"),
        rx.cond(
            QueueFeedState.recent_jobs.length() > 0,
            rx.vstack(rx.foreach(QueueFeedState.recent_jobs, job_card), width="100%", id="recent-jobs"),
            _empty("history", "No finished builds yet."),
        ),
        width="100%",
        spacing="3",
    )


@signed_in_page("/", "My websites", on_load=[WebsitesFeedState.link, QueueFeedState.link, UsageState.refresh])
def index() -> rx.Component:
    return rx.vstack(websites_section(), upload_card(), queue_section(), deploy_dialog(), spacing="6", width="100%")
