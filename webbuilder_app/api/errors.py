"""Every refusal is JSON with a message, whatever raised it."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from workers.errors import UserError

log = logging.getLogger(__name__)


def error_body(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"success": False, "message": message}, status_code=status, headers=headers)


def install(api: FastAPI) -> None:
    @api.exception_handler(UserError)
    @api.exception_handler(UserError)
    @api.exception_handler(UserError)
    @api.exception_handler(UserError)
    async def _domain_error(_request: Request, exc) -> JSONResponse:
        retry_after = getattr(exc, "retry_after", None)
        return error_body(exc.status, str(exc), {"Retry-After": str(retry_after)} if retry_after else None)

    @api.exception_handler(HTTPException)
    async def _http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return error_body(exc.status_code, str(exc.detail), exc.headers)

    @api.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors())
        return error_body(422, problems or "invalid request")

    @api.exception_handler(OperationalError)
    async def _database_unreachable(request: Request, exc: OperationalError) -> JSONResponse:
        # A database restart or failover: a named, temporary refusal that clients retry, not a bug.
        log.warning("database unreachable in %s %s: %s", request.method, request.url.path, str(exc).splitlines()[0])
        return error_body(503, "The database is unreachable right now; try again in a few seconds.", {"Retry-After": "5"})

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        return error_body(500, "Something went wrong on the server; the error was logged.")
