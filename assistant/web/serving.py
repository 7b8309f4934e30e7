"""How the app's files travel: HEAD wherever GET works, gzip for text, and caching a host site can
rely on.

- The public files (`static/`) are named by a hash of their contents (`/static/chat.js?v=<hash>`):
  with that hash they are cached for a year (`immutable`), so a visitor browsing a site that
  embeds the widget fetches them once; without it (an old or hand-written link) every use is
  checked with the server first (`no-cache`, answered 304 when unchanged).
- The page and `embed.js` change with the deployer's file: `embed.js` may be reused for a few
  minutes, the page is checked every time; both carry an ETag, so a check costs a 304.
- Text is gzipped, except what the console (its own framework) serves and the answer stream
  (`text/event-stream` is never compressed: each event must reach the reader as it is sent).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import parse_qs

from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

IMMUTABLE = "public, max-age=31536000, immutable"
CHECK_FIRST = "no-cache"
LOADER = "public, max-age=300"  # embed.js: a deployer's change reaches host sites within five minutes
NOT_COMPRESSED = ("/admin",)  # the staff console's framework does its own
EXCLUDED_TYPES = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/pdf")


def content_version(folder: Path) -> str:
    """One hash of every file in the folder (names and bytes): any change gives new URLs."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


class VersionedStatic(StaticFiles):
    """Static files, cached for good when asked for by the current version, checked otherwise."""

    def __init__(self, *, directory: Path, version: str) -> None:
        super().__init__(directory=directory)
        self.version = version

    def file_response(self, full_path, stat_result, scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v")
        response.headers["cache-control"] = IMMUTABLE if asked == [self.version] else CHECK_FIRST
        return response


def cached(request: Request, body: str | bytes, media_type: str, cache_control: str) -> Response:
    """A generated response with an ETag of its bytes: a 304 when the browser already has them."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    etag = '"' + hashlib.sha256(data).hexdigest()[:20] + '"'
    headers = {"cache-control": cache_control, "etag": etag}
    if etag in [t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)


class Served:
    """Outermost ASGI middleware: HEAD is answered as GET without the body, and text is gzipped."""

    def __init__(self, app) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=500, compresslevel=6, exclude_content_types=EXCLUDED_TYPES)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}
            send = _headers_only(send)
        inner = self.app if scope["path"].startswith(NOT_COMPRESSED) else self.gzip
        await inner(scope, receive, send)


def _headers_only(send):
    """A HEAD response: the GET's status and headers (its Content-Length too), no body."""
    ended = False

    async def send_head(message) -> None:
        nonlocal ended
        if message["type"] == "http.response.body":
            if ended:
                return  # the rest of the body is dropped
            ended = True
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return send_head
