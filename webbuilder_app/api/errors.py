"""Every refusal is JSON with a message, whatever raised it."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from workers.accounts import AccountError
from workers.archive import ArchiveError
from workers.jobs import JobError


def error_body(status: int, message: str) -> JSONResponse:
    return JSONResponse({"success": False, "message": message}, status_code=status)


def install(api: FastAPI) -> None:
    @api.exception_handler(AccountError)
    @api.exception_handler(ArchiveError)
    @api.exception_handler(JobError)
    async def _domain_error(_request: Request, exc) -> JSONResponse:
        return error_body(exc.status, str(exc))

    @api.exception_handler(HTTPException)
    async def _http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return error_body(exc.status_code, str(exc.detail))

    @api.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors())
        return error_body(422, problems or "invalid request")
