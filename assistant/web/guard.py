"""Before any work is done for a request: its size, its client's rate, its body, and how busy we are.

In this order, each refusal cheaper than the work it saves:
- A body larger than `max_body_bytes` gets a 413 before it is read in full (a document uploaded to
  the staff console may be as large as `max_document_mb`, plus the form around it).
- Each client (its address, or the address a trusted reverse proxy names in a configured header:
  client_address.py) may ask at the `rate_limit` rate (rate_limits.py: counted in each process, or
  in a store shared by every worker and machine); beyond it, a 429 with `Retry-After`, sent after a
  short pause, so that a greedy client cannot crowd out the others.
- The whole body is read within `body_timeout_s` (request_body.py), before the request takes any
  answering slot: a body still on its way when the time is up gets a 408, and the connection is
  closed. A client that sends its body slowly, or never, holds only its own connection.
- At most `max_in_flight` questions are answered or waiting at once in this process; beyond that, a
  fast 503 with `Retry-After`, rather than a queue that makes everyone wait.

A plain ASGI middleware, so a refused request costs next to nothing. The staff console's uploads
are not read ahead (they may be 10 MB): their size is counted as they arrive.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException

from assistant.settings import Settings
from assistant.web.client_address import ClientAddress
from assistant.web.http_errors import error_response
from assistant.web.rate_limits import RateLimits
from assistant.web.request_body import BodyTooLarge, BodyTooSlow, ClientGone, read_body

LIMITED = "/api/"  # POSTs under this path count against a client's rate
STAFF = "/api/admin/"  # ...except the staff console's, which needs a password and has its own login limit
ANSWERING = "/api/ask"  # requests under this path hold an answering slot (the stream too)
REFUSAL_DELAY_SECONDS = 1.0
UPLOADS = ("/api/admin/documents", "/admin/gradio_api/upload")  # the staff console's document uploads
UPLOAD_OVERHEAD = 64 * 1024  # the multipart form around the file
WITH_BODY = ("POST", "PUT", "PATCH", "DELETE")
CLOSE = {"Connection": "close"}  # after a refusal mid-body: the rest of it is not read


class RequestGuard:
    def __init__(self, app, settings: Settings) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes
        self.max_upload = int(settings.max_document_mb * 1_000_000) + UPLOAD_OVERHEAD
        self.body_seconds = settings.body_timeout_s
        self.rates = RateLimits(settings.rate_limit, settings.rate_limit_storage)
        self.max_in_flight = settings.max_in_flight
        self.in_flight = 0
        self.client_key = ClientAddress(settings)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method", "")
        upload = path.startswith(UPLOADS)
        limit = self.max_upload if upload else self.max_body
        length = _content_length(scope)
        if length is not None and length > limit:
            await self._refuse(scope, receive, send, 413, "too_large", self._too_large(limit), CLOSE)
            return
        if method == "POST" and path.startswith(LIMITED) and not path.startswith(STAFF) and self.rates.active:
            wait = await self.rates.acquire(self.client_key(scope))
            if wait is not None:
                # Held for a moment before it is sent: a client that ignores Retry-After and asks
                # again at once is slowed to a trickle, at the cost of one sleeping task each.
                await asyncio.sleep(min(wait, REFUSAL_DELAY_SECONDS))
                await self._refuse(
                    scope,
                    receive,
                    send,
                    429,
                    "rate_limited",
                    f"You have asked a lot of questions in a short time. Please wait {wait} "
                    f"second{'s' if wait != 1 else ''} and ask again.",
                    {"Retry-After": str(wait)},
                )
                return
        if upload or method not in WITH_BODY:
            receive = self._bounded(receive, limit)
        else:
            try:
                receive = await read_body(receive, limit, self.body_seconds)
            except ClientGone:
                return
            except BodyTooLarge:
                await self._refuse(scope, receive, send, 413, "too_large", self._too_large(limit), CLOSE)
                return
            except BodyTooSlow:
                seconds = f"{self.body_seconds:g} second{'s' if self.body_seconds != 1 else ''}"
                message = (
                    f"The request did not arrive in time: send the whole request within {seconds}, then ask again."
                )
                await self._refuse(scope, receive, send, 408, "request_timeout", message, CLOSE)
                return
        answering = method == "POST" and path.startswith(ANSWERING)
        if answering:
            if self.in_flight >= self.max_in_flight:
                await self._refuse(
                    scope,
                    receive,
                    send,
                    503,
                    "busy",
                    "The assistant is answering many questions at the moment. Please ask again in a few seconds.",
                    {"Retry-After": "2"},
                )
                return
            self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            if answering:
                self.in_flight -= 1

    @staticmethod
    def _too_large(limit: int) -> str:
        if limit >= 1_000_000:
            return f"The request is too large: at most {limit / 1e6:,.1f} MB."
        return f"The request is too large: at most {limit // 1024:,} KB."

    def _bounded(self, receive, limit: int):
        """Count the body as it arrives (a chunked upload has no Content-Length)."""
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, detail=self._too_large(limit))
            return message

        return counted

    @staticmethod
    async def _refuse(scope, receive, send, status, code, message, headers=None) -> None:
        await error_response(status, code, message, headers)(scope, receive, send)


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
