"""Where a request to the console came from, and which may change something.

A browser says which page sent a request: `Origin` (always on a POST, PUT or DELETE, and on a
websocket) and `Sec-Fetch-Site` (same-origin, same-site, cross-site or none). Another site's page
cannot forge either, but it can make a logged-in editor's browser send a form or a `fetch` with the
editor's cookie or cached HTTP Basic credentials. So, under `/admin/` and `/api/admin/`, a request
that changes something is refused (403 `csrf_failed`) when it came from any page but the app's
own, or a site the deployer listed in `ASSISTANT_ADMIN_ORIGINS`. A request that names no origin at
all (a script: curl, httpx) passes this check; on `/api/admin/` it must then carry
`X-Requested-With: clinks-console`, a header no form can send and no other site's `fetch` may send
without the app's leave (a CORS preflight, which the app refuses).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from assistant.web.http_errors import error_response as error

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SCRIPT_HEADER = "X-Requested-With"
SCRIPT_VALUE = "clinks-console"
OWN, LISTED, ELSEWHERE, UNKNOWN = "own", "listed", "elsewhere", "unknown"
LOGIN = "/admin/login"


def csrf_refused():
    """The one answer to a change that did not come from the console's own pages."""
    return error(
        403,
        "csrf_failed",
        "This request did not come from the console's own pages. Reload the page and try again.",
    )


def normalise(origin: str) -> str:
    """'https://Tools.Example.org/' -> 'https://tools.example.org' (an origin as browsers send it)."""
    parts = urlsplit(origin.strip().lower())
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else origin.strip().lower()


def where_from(headers: dict[str, str], listed: frozenset[str]) -> str:
    """OWN (this app's pages), LISTED (a site the deployer named), ELSEWHERE (any other page), or
    UNKNOWN (nothing says: a script, or a browser that sends neither header)."""
    host = headers.get("host", "").lower()
    origin = headers.get("origin", "").strip().lower()
    site = headers.get("sec-fetch-site", "").strip().lower()
    if origin and normalise(origin) in listed:
        return LISTED
    if site in ("cross-site", "same-site"):  # another site, or another port or subdomain of this one
        return ELSEWHERE
    if origin:  # "null" (a sandboxed frame, a file) is never this app
        parts = urlsplit(origin)
        return OWN if parts.scheme in ("http", "https") and parts.netloc == host else ELSEWHERE
    if site == "same-origin":
        return OWN
    referer = headers.get("referer", "")
    if referer:
        parts = urlsplit(referer)
        return OWN if parts.scheme in ("http", "https") and parts.netloc.lower() == host else ELSEWHERE
    return UNKNOWN


def is_console(path: str) -> bool:
    return path in ("/admin", "/api/admin") or path.startswith(("/admin/", "/api/admin/"))


class CrossSiteGuard:
    """ASGI, in front of the session gate and the API's password check: refuses a request that
    changes something from another site's page, and a script's without the header."""

    def __init__(self, app, listed: frozenset[str]) -> None:
        self.app = app
        self.listed = listed

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] not in ("http", "websocket") or not is_console(path):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and (scope.get("method", "GET") in SAFE_METHODS or path == LOGIN):
            await self.app(scope, receive, send)  # the login form makes the same check, and answers with a page
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        source = where_from(headers, self.listed)
        if source == ELSEWHERE:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4403})
                return
            await csrf_refused()(scope, receive, send)
            return
        if path.startswith("/api/admin") and headers.get(SCRIPT_HEADER.lower(), "").strip().lower() != SCRIPT_VALUE:
            await error(
                403,
                "header_required",
                f"Send the header '{SCRIPT_HEADER}: {SCRIPT_VALUE}' with every request that changes something "
                "(it shows the request came from a script, not from another site's page).",
            )(scope, receive, send)
            return
        await self.app(scope, receive, send)
