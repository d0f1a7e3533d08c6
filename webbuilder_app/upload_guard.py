"""Refuse an oversized upload to Reflex's upload endpoint before reading its body.

Reflex parses the whole multipart body of its upload endpoint into temporary files before the upload
handler (state/upload.py) runs, so a body far over WEBBUILDER_MAX_UPLOAD_MB would be received, and
written to disk, in full only to be refused by the intake afterwards. The guard answers from the
declared length instead: 413 over the limit, 411 without a length (a browser's form upload always
declares one, and the server stops reading at the declared length).
"""

from __future__ import annotations

from reflex_base.config import get_config
from reflex_base.constants.event import Endpoint
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from workers.config import settings
from workers.errors import UploadTooLarge
from workers.services.builds import upload_request_limit


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _refusal(scope: Scope) -> JSONResponse | None:
    declared = _declared_length(scope)
    if declared is None:
        return JSONResponse({"success": False, "message": "the upload must declare its Content-Length"}, status_code=411)
    if declared > upload_request_limit():
        return JSONResponse({"success": False, "message": str(UploadTooLarge(settings().max_upload_mb))}, status_code=413)
    return None


def refuse_oversized_uploads(app: ASGIApp) -> ASGIApp:
    """Wrap the app: an upload POST whose declared size is over the limit is answered at once."""
    upload_path = get_config().prepend_backend_path(str(Endpoint.UPLOAD))

    async def guard(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == upload_path and scope["method"] == "POST":
            if (refusal := _refusal(scope)) is not None:
                await refusal(scope, receive, send)
                return
        await app(scope, receive, send)

    return guard
