"""The drop zone: a .zip, or a whole folder (dropped, or picked with the folder button). The upload
form has one (UPLOAD_ID), the "Deploy a new version" dialog another (DEPLOY_ID): each function takes
the zone's upload id.

Browsers give dropped folder files paths like "/my-site/src/main.tsx"; Reflex keeps only the base
name of a path that starts with "/", which would flatten the project. The zone reads dropped files
with react-dropzone's own reader and strips the leading "/" (and "./"), so the folder structure
reaches the server intact; the server still checks every name (workers/archive.py).

Sending the selection (`send_selection`) also watches the request to its end, so that a failed
request cannot leave the form in its "uploading" state.
"""

from typing import Any

import reflex as rx
from reflex.vars import Var, VarData
from reflex_base.components.component import field
from reflex_components_core.core.upload import Upload, get_upload_files_context_var_data

from webbuilder_app.state.upload import UPLOAD_ID, UploadState


def _files(upload_id: str) -> str:
    return f"(filesById[{upload_id!r}] ?? [])"


RELATIVE_PATHS = Var(
    _js_expr="""async (event) => (await fromEvent(event)).map(f => {
    if (!(f instanceof File)) return f;
    const relative = (f.path || f.name).replace(/^(\\.?\\/)+/, "");
    if (relative === f.path) return f;
    const copy = new File([f], f.name, {type: f.type, lastModified: f.lastModified});
    Object.defineProperty(copy, "path", {value: relative});
    return copy;
})""",
    _var_data=VarData(imports={"file-selector@2.1.2": "fromEvent"}),  # the version react-dropzone 17 reads with
)


class ProjectUpload(Upload):
    """rx.upload plus react-dropzone's `getFilesFromEvent`, which Reflex does not expose."""

    get_files_from_event: Var[Any] = field(doc="Reads the files of a drop or a file-input change.")

    @classmethod
    def create(cls, *children, **props):
        Upload.is_used = True  # Reflex serves its upload endpoint only when this flag is on Upload itself
        upload = super().create(*children, **props)
        # react-dropzone's file input is only visually hidden: assistive technology still meets it.
        file_input = upload.children[0].children[0]
        file_input.custom_attrs["aria-label"] = "Project files: a .zip, or a folder"
        return upload


def _selection(expression: str, var_type: type) -> Var:
    return Var(_js_expr=expression, _var_data=get_upload_files_context_var_data()).to(var_type)


def selected_count(upload_id: str = UPLOAD_ID) -> Var:
    return _selection(f"{_files(upload_id)}.length", int)


def selection_summary(upload_id: str = UPLOAD_ID) -> Var:
    return _selection(
        f"""(() => {{ const files = {_files(upload_id)}; if (files.length === 0) return "";
  if (files.length === 1) return files[0].name;
  const top = (files[0].path || "").replace(/^(\\.?\\/)+/, "").split("/")[0];
  return `${{files.length}} files from folder ${{top}}`; }})()""",
        str,
    )


def _pick_folder_script(upload_id: str) -> str:
    return f"""(() => {{
  const input = document.querySelector("#{upload_id} input[type=file]");
  input.setAttribute("webkitdirectory", "");
  input.addEventListener("change", () => input.removeAttribute("webkitdirectory"), {{once: true}});
  input.click();
}})()"""


def _request_ended(upload_id: str) -> Var:
    """Resolves once the upload request is over. Reflex 0.10's uploadFiles reports nothing when its
    request fails (network error, 413, abort: it logs and resolves to false), and the controller's
    disappearance is the only trace of the end it leaves, hence the light polling."""
    # Reflex keeps an upload's AbortController in `refs` under this key (rx.cancel_upload aborts it)
    # from the moment the request starts until it ends, in success or failure.
    controller = Var(f"__upload_controllers_{upload_id}")._as_ref()
    return Var(
        _js_expr=f"""new Promise((ended) => {{
  const watch = () => ({controller!s} ? setTimeout(watch, 200) : ended(true));
  watch();
}})""",
        _var_data=controller._get_all_var_data(),
    )


def send_selection(upload_id: str = UPLOAD_ID, handler=UploadState.handle_upload) -> list:
    """Upload the zone's selected files to `handler` with progress, then tell the state that the
    request is over.

    The watcher runs right after the upload event, which registers its controller synchronously."""
    return [
        UploadState.start,
        handler(rx.upload_files(upload_id=upload_id, on_upload_progress=UploadState.track_progress)),
        rx.run_script(_request_ended(upload_id), callback=UploadState.upload_settled),
    ]


def upload_feedback() -> rx.Component:
    """The upload's progress while it is sent, and why it failed. In one place at a time: the form's,
    or the dialog's while it is open."""
    return rx.fragment(
        rx.cond(
            UploadState.uploading,
            rx.hstack(
                rx.progress(value=UploadState.sent_percent, max=100, flex="1", id="upload-progress", aria_label="Upload progress"),
                # Once every byte is sent, a large zip still takes a moment to unpack and check.
                rx.text(rx.cond(UploadState.sent_percent < 100, f"{UploadState.sent_percent}% sent", "Sent; checking the files…"),
                        size="1", color_scheme="gray", id="upload-progress-text"),
                width="100%",
                align="center",
            ),
        ),
        rx.cond(UploadState.upload_error != "", rx.callout(UploadState.upload_error, icon="triangle-alert", color_scheme="red", id="upload-error")),
    )


def upload_zone(upload_id: str = UPLOAD_ID) -> rx.Component:
    return ProjectUpload.create(
        rx.vstack(
            rx.icon("cloud-upload", size=32, color="var(--accent-9)"),
            rx.text("Drop a .zip of your project, or its folder, here", weight="medium"),
            rx.text("or click to choose a .zip — React, Vite and TypeScript projects, or a static site", size="1", color_scheme="gray"),
            align="center",
            spacing="1",
        ),
        id=upload_id,
        multiple=True,
        get_files_from_event=RELATIVE_PATHS,
        border="2px dashed var(--gray-a7)",
        border_radius="12px",
        padding="2rem",
        width="100%",
        cursor="pointer",
        background="var(--gray-a2)",
        drag_active_style={"border_color": "var(--accent-9)", "background": "var(--accent-a3)"},
    )


def pick_folder_button(upload_id: str = UPLOAD_ID, button_id: str = "pick-folder") -> rx.Component:
    return rx.button(rx.icon("folder-open", size=16), "Choose a folder", variant="soft", color_scheme="gray",
                     on_click=rx.call_script(_pick_folder_script(upload_id)), id=button_id, type="button")
