"""The Reflex app: pages, the HTTP API on the same port, published sites on their own origins."""

import reflex as rx

from webbuilder_app.api.app import create_api
from webbuilder_app.pages import account, auth, index, integrations, job, ops, tokens, verify_email, website  # noqa: F401  (registers the pages)
from webbuilder_app.previews import with_previews
from webbuilder_app.relay import end_signed_out_tabs, relay_changes
from webbuilder_app.security_headers import with_security_headers
from webbuilder_app.socket_guard import guard_event_socket
from webbuilder_app.upload_guard import refuse_oversized_uploads

# Each wraps the ones before it; the published sites (with_previews) are outside the app's headers.
# Toasts in the theme's colours: sonner's rich colours put text below 4.5:1 contrast.
app = rx.App(api_transformer=[create_api(), with_security_headers, with_previews, refuse_oversized_uploads, guard_event_socket],
             toaster=rx.toast.provider(rich_colors=False))
app.register_lifespan_task(relay_changes)
app.register_lifespan_task(end_signed_out_tabs)
