"""A request's whole body, read before any work is done for it: within a time and a size limit.

A client that sends its headers and then the body slowly (or never) holds nothing but its own
connection: it takes no answering slot while its body is on its way, and is cut off when the time
is up. The body read is then handed to the app as if it were arriving now (`read_body` returns the
`receive` the app should use).
"""

from __future__ import annotations

import asyncio


class BodyTooLarge(Exception):
    """More than the limit arrived (a chunked body has no Content-Length to refuse it by)."""


class BodyTooSlow(Exception):
    """The body had not all arrived when the time was up."""


class ClientGone(Exception):
    """The client closed the connection before its body was complete: nobody to answer."""


async def read_body(receive, limit: int, seconds: float):
    """The whole body within `seconds`, at most `limit` bytes; returns a `receive` that replays it."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise BodyTooSlow from None
    body = b"".join(chunks)
    replayed = False

    async def replay():
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: only the client's disconnect is still to come

    return replay
