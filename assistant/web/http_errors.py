"""One shape for every error the web app gives, at any path: `{"error": {"code", "message"}}`.

The message is a plain sentence a person can act on, never a framework's wording or a traceback.
`install(app, ...)` adds handlers for FastAPI's own errors (400, 404, 405, 413, 422) and an outer
middleware that turns any other exception into a JSON 500 and puts the security headers on every
response, errors included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)

GENERIC_FAILURE = "Something went wrong on our side; please try again in a moment."
EXAMPLE = '{"question": "What is market warming?"}'


class ApiError(Exception):
    """An error meant for the caller: its status, a stable code and a plain message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message}}, headers=headers)


_BY_STATUS = {
    400: ("bad_request", f"The request body could not be read as JSON (UTF-8 text). Send JSON such as {EXAMPLE}."),
    401: ("unauthorised", "This address needs a login."),
    403: ("forbidden", "This address is not open."),
    404: ("not_found", "There is nothing at this address."),
    413: ("too_large", "The request is too large."),
    415: ("unsupported_type", "Send the request as JSON."),
}


def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed = headers.get("Allow") or headers.get("allow") or ""
        return error_response(
            405,
            "method_not_allowed",
            f"This address does not accept {request.method} requests"
            + (f"; use {allowed.replace(', ', ' or ')}." if allowed else "."),
            headers,
        )
    code, message = _BY_STATUS.get(exc.status_code, ("error", GENERIC_FAILURE))
    if exc.status_code == 413 and isinstance(exc.detail, str) and exc.detail.startswith("The "):
        message = exc.detail  # our own message, with the limit in it
    return error_response(exc.status_code, code, message, headers)


def _field(loc: tuple) -> str:
    """('body', 'history', 0, 'role') -> "history[0].role"."""
    out = ""
    for part in loc[1:]:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def describe(error: dict) -> str:
    """One validation error as a sentence; the input itself is never repeated back."""
    kind, field, ctx = error.get("type", ""), _field(tuple(error.get("loc", ()))), error.get("ctx") or {}
    if kind == "json_invalid":
        return f"The request body is not valid JSON. Send JSON such as {EXAMPLE}."
    if not field:
        if kind == "missing":
            return f"The request has no body. Send JSON such as {EXAMPLE}."
        return f"The request body must be a JSON object, such as {EXAMPLE}."
    name = f"'{field}'"
    if kind == "missing":
        return f"The request needs {name}."
    if kind == "string_type":
        return f"{name} must be text."
    if kind == "string_unicode":
        return f"{name} holds characters that are not valid text."
    if kind in ("bool_type", "bool_parsing"):
        return f"{name} must be true or false."
    if kind in ("list_type", "tuple_type"):
        return f"{name} must be a list."
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f'{name} must be an object such as {{"role": "user", "content": "..."}}.'
    if kind == "string_too_long":
        return f"{name} is too long: at most {ctx.get('max_length', '?'):,} characters."
    if kind == "string_too_short":
        return f"{name} is too short."
    if kind == "too_long":
        return f"{name} has too many items: at most {ctx.get('max_length', '?')}."
    if kind == "string_pattern_mismatch" and field.endswith("role"):
        return f'{name} must be "user" or "assistant".'
    if kind == "extra_forbidden":
        return f"{name} is not a field this address takes."
    return f"{name} is not valid."


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    message = " ".join(dict.fromkeys(describe(e) for e in errors[:3])) or "The request was not understood."
    return error_response(422, "invalid_request", message)


def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.headers)


def install(app: FastAPI, headers_for: Callable[[str], list[tuple[bytes, bytes]]]) -> None:
    """Every error in one shape; `headers_for(path)` gives the security headers for a path."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_middleware(LastResort, headers_for=headers_for)


class LastResort:
    """Outermost: security headers on every response, and any unhandled exception as a JSON 500
    (the traceback goes to the log only)."""

    def __init__(self, app, headers_for: Callable[[str], list[tuple[bytes, bytes]]]) -> None:
        self.app = app
        self.headers_for = headers_for

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.headers_for(scope.get("path", ""))
        names = {name for name, _ in extra}
        started = False

        async def send_with_headers(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": headers + extra}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as err:
            # The request may hold personal data: the log names the path and the failure only.
            log.error("Unhandled %s at %s", type(err).__name__, scope.get("path", ""), exc_info=err)
            if started:
                raise
            await error_response(500, "internal_error", GENERIC_FAILURE)(scope, receive, send_with_headers)
