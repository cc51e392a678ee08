"""Errors as the API answers them: ``{"error": {"code", "message", "details"}}`` (docs/API.md).

Domain errors (:class:`~mixlab.errors.MixlabError`) keep their code and message; the class says
the status: bad input 400 (413 for size limits), our fault 500. Errors only the service knows
(not found, busy, too large) are :class:`ApiError` with their status. One handler per kind,
installed by :func:`install_handlers`; no route builds an error body itself.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mixlab.errors import (
    InvalidAudioError,
    InvalidParameterError,
    MixlabError,
    ProcessingError,
    UnsupportedFormatError,
)

log = logging.getLogger(__name__)

_SIZE_CODES = ("upload.too_large", "stems.zip_too_large")


class ApiError(MixlabError):
    """An error with its HTTP status (not found, busy, too large, not ready)."""

    def __init__(self, status_code: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message, code=code, **details)
        self.status_code = status_code


def not_found(what: str, **details: Any) -> ApiError:
    return ApiError(404, "http.not_found", f"{what} was not found. It may have been deleted; reload the page.",
                    **details)


def status_for(exc: MixlabError) -> int:
    """HTTP status of a domain error (docs/API.md, Conventions)."""
    if isinstance(exc, ApiError):
        return exc.status_code
    if exc.code in _SIZE_CODES:
        return 413
    if isinstance(exc, ProcessingError):
        return 500
    if isinstance(exc, (InvalidAudioError, UnsupportedFormatError, InvalidParameterError)):
        return 400
    return 400


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _json_safe(details: dict[str, Any]) -> dict[str, Any]:
    """Details hold numbers, strings and lists of them; anything else is shown as text."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        if isinstance(value, (str, int, float, bool, type(None), list, dict)):
            out[key] = value
        else:
            out[key] = str(value)
    return out


async def _mixlab_error(request: Request, exc: MixlabError) -> JSONResponse:
    status = status_for(exc)
    if status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.message, exc_info=exc)
    services = getattr(request.app.state, "services", None)
    message = services.storage.hide_paths(exc.message) if services is not None else exc.message
    details = {k: services.storage.hide_paths(v) if services is not None and isinstance(v, str) else v
               for k, v in _json_safe(exc.details).items()}
    return JSONResponse(error_body(exc.code, message, details), status_code=status)


def field_path(parts: list[str | int] | tuple[str | int, ...]) -> str:
    """``["plan", "tracks", 0, "name"]`` as ``plan.tracks[0].name``."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """A body, query or path value of the wrong type or range: 400, naming the first field
    (``details.parameter``) and listing every problem."""
    problems = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if p != "body"]
        if loc and loc[0] in ("query", "path"):
            loc = loc[1:]
        where = field_path(loc)
        problems.append({"field": where, "message": err.get("msg", "invalid")})
    text = "; ".join(f"{p['field']}: {p['message']}" if p["field"] else p["message"] for p in problems)
    return JSONResponse(
        error_body("request.invalid", f"The request was not understood ({text}). Reload the page and try again.",
                   {"parameter": problems[0]["field"] if problems else "", "problems": problems}),
        status_code=400,
    )


_HTTP_CODES = {404: "http.not_found", 405: "http.method_not_allowed", 413: "upload.too_large"}


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, f"http.{exc.status_code}")
    message = str(exc.detail) if exc.detail else "error"
    if exc.status_code == 404:
        message = f"{request.url.path}: not found."
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = secrets.token_hex(4)
    log.error("request %s: %s %s failed", request_id, request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        error_body("server.error", f"Something went wrong on our side (request {request_id}). Try again; if it "
                   "keeps happening, report it with this request number.", {"request_id": request_id}),
        status_code=500,
    )


class UnexpectedErrors:
    """Answers an unexpected exception with the 500 error body and ends the request there.

    Starlette's ``ServerErrorMiddleware`` (where a handler for ``Exception`` would run) sends
    the 500 and then re-raises; uvicorn, seeing the exception after a complete response,
    closes the connection, so the client's next request on that keep-alive connection failed.
    Here the exception is logged and answered, and the connection stays usable. An exception
    after the response started (a stream cut off) still propagates: that connection cannot
    be reused anyway.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception as exc:
            if started:
                raise
            response = await _unexpected(Request(scope, receive), exc)
            await response(scope, receive, send)


def install_handlers(app: FastAPI) -> None:
    # Starlette types handlers as taking Exception; each gets the class it is registered for.
    app.add_exception_handler(MixlabError, _mixlab_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_middleware(UnexpectedErrors)  # type: ignore[arg-type]


__all__ = ["ApiError", "UnexpectedErrors", "error_body", "field_path", "install_handlers", "not_found", "status_for"]
