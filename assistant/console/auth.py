"""Who may use the console: one password, kept only as a scrypt hash in memory; sessions in the
database (the cookie holds a random token, the database its SHA-256), so every worker process
knows them; failed logins counted per address, and in all, in the database too.

The gate (`AdminGate`, an ASGI middleware) stands in front of every path under `/admin/`, Gradio's
page, API, upload, file and queue routes included: without a live session a page request is sent
to the login page and anything else gets a JSON 401. Cross-site request forgery is stopped twice:
the cookie is `SameSite=Strict`, and every request that changes something must come from this
site's own pages (its `Origin`, which browsers always send on such requests) or carry the session's
CSRF token (`X-CSRF-Token`); the login form carries a token of its own (double-submit cookie).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import math
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from assistant.stores.database import Database
from assistant.stores.tables import admin_sessions, login_failures

COOKIE = "clinks_admin"
LOGIN_COOKIE = "clinks_admin_login"  # the login form's own CSRF token
FAILURE_WINDOW = 15 * 60
OPEN_PATHS = ("/admin/login", "/admin/logout")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"


def error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message}}, headers=headers)


@dataclass(frozen=True)
class Session:
    token_hash: str
    csrf: str
    expires_at: float


class Auth:
    def __init__(self, password: str, db: Database, settings, client_address) -> None:
        self._salt = secrets.token_bytes(16)
        self._hash = self._derive(password)  # the plain password is not kept by the console
        self.db = db
        self.hours = settings.admin_session_hours
        self.attempts = settings.admin_login_attempts
        self.client_address = client_address  # scope -> the client's address (trusted proxy aware)

    def _derive(self, candidate: str) -> bytes:
        return hashlib.scrypt(candidate.encode("utf-8"), salt=self._salt, n=2**14, r=8, p=1, dklen=32)

    def check_password(self, candidate: str) -> bool:
        return hmac.compare_digest(self._derive(candidate[:1024]), self._hash)

    # ---- failed logins
    def retry_after(self, client: str) -> int:
        """Seconds until this address may try again (0: now). Each address may fail
        `admin_login_attempts` times in 15 minutes; all addresses together ten times that."""
        since = time.time() - FAILURE_WINDOW
        with self.db.connect() as conn:
            mine = conn.execute(
                sa.select(login_failures.c.at)
                .where(login_failures.c.at >= since, login_failures.c.client == client)
                .order_by(login_failures.c.at)
            ).scalars().all()
            everyone = conn.execute(
                sa.select(sa.func.count()).select_from(login_failures).where(login_failures.c.at >= since)
            ).scalar_one()
        if len(mine) >= self.attempts:
            return max(1, math.ceil(mine[-self.attempts] + FAILURE_WINDOW - time.time()))
        if everyone >= self.attempts * 10:
            return 60
        return 0

    def failed(self, client: str) -> None:
        with self.db.begin() as conn:
            conn.execute(sa.insert(login_failures).values(at=time.time(), client=client[:64]))
            conn.execute(sa.delete(login_failures).where(login_failures.c.at < time.time() - FAILURE_WINDOW))

    # ---- sessions
    def start_session(self, client: str) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(_digest(token), secrets.token_urlsafe(24), time.time() + self.hours * 3600)
        with self.db.begin() as conn:
            conn.execute(sa.delete(admin_sessions).where(admin_sessions.c.expires_at < time.time()))
            conn.execute(
                sa.insert(admin_sessions).values(
                    token_hash=session.token_hash,
                    csrf=session.csrf,
                    created_at=time.time(),
                    expires_at=session.expires_at,
                    client=client[:64],
                )
            )
        return token, session

    def session(self, token: str | None) -> Session | None:
        if not token or len(token) > 100:
            return None
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(admin_sessions).where(admin_sessions.c.token_hash == _digest(token))
            ).mappings().first()
        if row is None or row["expires_at"] < time.time():
            return None
        return Session(row["token_hash"], row["csrf"], row["expires_at"])

    def end_session(self, token: str | None) -> None:
        if token:
            with self.db.begin() as conn:
                conn.execute(sa.delete(admin_sessions).where(admin_sessions.c.token_hash == _digest(token)))

    def session_of(self, request_or_cookies) -> Session | None:
        cookies = getattr(request_or_cookies, "cookies", request_or_cookies) or {}
        return self.session(cookies.get(COOKIE))

    def basic_ok(self, header: str | None) -> bool | None:
        """HTTP Basic `admin:<password>`: True, False (wrong), or None (no such header)."""
        import base64
        import binascii

        if not header or not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        return hmac.compare_digest(user.encode(), b"admin") & self.check_password(password)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def same_origin(headers: dict[str, str], scheme: str) -> bool:
    """Was this request sent by one of this site's own pages? (Origin, or else Referer.)"""
    host = headers.get("host", "")
    for name in ("origin", "referer"):
        value = headers.get(name)
        if value:
            parts = urlsplit(value)
            return parts.netloc == host and parts.scheme in ("http", "https")
    return False


class AdminGate:
    """Every request under /admin/ (but the login and logout pages) needs a live session; every
    request there that changes something must also pass the CSRF check."""

    def __init__(self, app, auth: Auth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] not in ("http", "websocket") or not (path == "/admin" or path.startswith("/admin/")):
            await self.app(scope, receive, send)
            return
        if path in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        from starlette.concurrency import run_in_threadpool
        from starlette.requests import cookie_parser

        cookies = cookie_parser(headers.get("cookie", ""))
        session = await run_in_threadpool(self.auth.session, cookies.get(COOKIE))
        if scope["type"] == "websocket":
            if session is None:
                await send({"type": "websocket.close", "code": 4401})
                return
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        if session is None:
            expired = COOKIE in cookies
            if method == "GET" and "text/html" in headers.get("accept", "") and not path.startswith("/admin/gradio_api"):
                response: Response = RedirectResponse("/admin/login" + ("?expired=1" if expired else ""), status_code=303)
            elif expired:
                response = error(401, "session_expired", "Your session has expired. Reload the page and log in again.")
            else:
                response = error(401, "login_required", "Log in to the staff console first, at /admin/login.")
            response.headers["Cache-Control"] = "no-store"
            await response(scope, receive, send)
            return
        if method not in SAFE_METHODS:
            token = headers.get("x-csrf-token", "")
            if not (same_origin(headers, scope.get("scheme", "http")) or hmac.compare_digest(token, session.csrf)):
                await error(
                    403, "csrf_failed", "This request did not come from the console's own pages. Reload the page and try again."
                )(scope, receive, send)
                return
        scope.setdefault("state", {})["admin_session"] = session
        await self.app(scope, receive, send)


def add_login_routes(app: FastAPI, auth: Auth, audit) -> None:
    page = (TEMPLATES / "admin_login.html").read_text(encoding="utf-8")

    def login_page(message: str = "", status: int = 200, is_error: bool = False) -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        note = ""
        if message:
            role = "alert" if is_error else "status"
            note = f'<p class="note{" error" if is_error else ""}" role="{role}">{html.escape(message)}</p>'
        body = page.replace("$message", note).replace("$csrf", token)
        response = HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/admin/login", max_age=3600)
        return response

    @app.get("/admin/login", include_in_schema=False)
    def login_form(request: Request, expired: str = "") -> HTMLResponse:
        if auth.session_of(request):
            return RedirectResponse("/admin/", status_code=303)
        return login_page("Your session has expired; please log in again." if expired else "")

    @app.post("/admin/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        client = auth.client_address(request.scope)
        try:
            form = await request.form(max_files=0, max_fields=5, max_part_size=4096)
        except Exception:  # not a form at all
            return login_page("The login form could not be read. Please try again.", 400, True)
        password, token = str(form.get("password") or ""), str(form.get("csrf") or "")
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not token or not expected or not hmac.compare_digest(token, expected) or not _form_origin_ok(request):
            return login_page(
                "The login form had expired or did not come from this site. Please try again.", 403, True
            )
        from starlette.concurrency import run_in_threadpool

        wait = await run_in_threadpool(auth.retry_after, client)
        if wait:
            minutes = max(1, math.ceil(wait / 60))
            response = login_page(
                f"Too many failed logins. Please wait {minutes} minute{'s' if minutes != 1 else ''} and try again.",
                429,
                True,
            )
            response.headers["Retry-After"] = str(wait)
            return response
        if not await run_in_threadpool(auth.check_password, password):
            await run_in_threadpool(auth.failed, client)
            await run_in_threadpool(audit.write, f"console {client}", "login_failed", "")
            return login_page("That password is not right.", 401, True)
        cookie, _session = await run_in_threadpool(auth.start_session, client)
        await run_in_threadpool(audit.write, f"console {client}", "login", "")
        response = RedirectResponse("/admin/", status_code=303)
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(auth.hours * 3600),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/admin",
        )
        response.delete_cookie(LOGIN_COOKIE, path="/admin/login")
        return response

    @app.get("/admin/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        """A GET is safe here: the cookie is SameSite=Strict, so another site cannot end a session."""
        if auth.session_of(request):
            audit.write(f"console {auth.client_address(request.scope)}", "logout", "")
        auth.end_session(request.cookies.get(COOKIE))
        response = RedirectResponse("/admin/login", status_code=303)
        response.delete_cookie(COOKIE, path="/admin")
        return response


def _form_origin_ok(request: Request) -> bool:
    """A browser sends Origin with a form; when it does, it must be this site."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    if "origin" not in headers and "referer" not in headers:
        return True  # scripts and old browsers: the double-submit token is the check
    return same_origin(headers, request.url.scheme)
