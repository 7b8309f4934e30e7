"""Before any work is done for a request: its size, its client's rate, and how busy we are.

- A body larger than `max_body_bytes` gets a 413 before it is read in full (a document uploaded to
  the staff console may be as large as `max_document_mb`, plus the form around it).
- Each client (its address, or the address a trusted reverse proxy names in a configured header)
  may ask at the `rate_limit` rate (the `limits` library, moving window); beyond it, a 429 with
  `Retry-After`, sent after a short pause, so that a greedy client cannot crowd out the others.
- At most `max_in_flight` questions are answered or waiting at once in this process; beyond that, a
  fast 503 with `Retry-After`, rather than a queue that makes everyone wait.

A plain ASGI middleware, so a refused request costs next to nothing. With several worker
processes (`serve --workers N`), each counts on its own.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time

from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.exceptions import HTTPException

from assistant.settings import Settings
from assistant.web.http_errors import error_response

LIMITED = "/api/"  # POSTs under this path count against a client's rate
STAFF = "/api/admin/"  # ...except the staff console's, which needs a password and has its own login limit
ANSWERING = "/api/ask"  # requests under this path hold an answering slot (the stream too)
REFUSAL_DELAY_SECONDS = 1.0
UPLOADS = ("/api/admin/documents", "/admin/gradio_api/upload")  # the staff console's document uploads
UPLOAD_OVERHEAD = 64 * 1024  # the multipart form around the file


class RequestGuard:
    def __init__(self, app, settings: Settings) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes
        self.max_upload = int(settings.max_document_mb * 1_000_000) + UPLOAD_OVERHEAD
        self.rates = parse_many(settings.rate_limit) if settings.rate_limit else []
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.max_in_flight = settings.max_in_flight
        self.in_flight = 0
        self.header = settings.client_ip_header.lower().encode() if settings.client_ip_header else None
        self.proxies = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method", "")
        limit = self.max_upload if path.startswith(UPLOADS) else self.max_body
        length = _content_length(scope)
        if length is not None and length > limit:
            await self._refuse(scope, receive, send, 413, "too_large", self._too_large(limit))
            return
        if method == "POST" and path.startswith(LIMITED) and not path.startswith(STAFF) and self.rates:
            key = self.client_key(scope)
            if not all(self.limiter.test(rate, key) for rate in self.rates):
                wait = self._retry_after(key)
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
            for rate in self.rates:
                self.limiter.hit(rate, key)
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
            await self.app(scope, self._bounded(receive, limit), send)
        finally:
            if answering:
                self.in_flight -= 1

    def client_key(self, scope) -> str:
        """The client's address; the right-most address in the configured header when the request
        comes from a trusted proxy (that is the address the proxy itself saw)."""
        peer = (scope.get("client") or ("unknown", 0))[0]
        if self.header and self._trusted(peer):
            for name, value in scope.get("headers", []):
                if name == self.header:
                    last = value.decode("latin-1").split(",")[-1].strip()
                    if last:
                        return last[:64]
        return peer

    def _trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.proxies)

    def _retry_after(self, key: str) -> int:
        now = time.time()
        waits = [
            self.limiter.get_window_stats(rate, key).reset_time - now
            for rate in self.rates
            if not self.limiter.test(rate, key)
        ]
        return max(1, math.ceil(max(waits, default=1)))

    @staticmethod
    def _too_large(limit: int) -> str:
        if limit >= 1_000_000:
            return f"The request is too large: at most {limit / 1e6:,.1f} MB."
        return f"The request is too large: at most {limit // 1024:,} KB."

    def _bounded(self, receive, limit: int):
        """Count the body as it arrives (a chunked body has no Content-Length)."""
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
