"""Who may use the console: one password, kept only as a scrypt hash in memory; sessions in the
database (the cookie holds a random token, the database its SHA-256), so every worker process
knows them; every password check reserved and counted in the database first (`throttle.py`).

The gate (`AdminGate`, an ASGI middleware) stands in front of every path under `/admin/`, Gradio's
page, API, upload, file and queue routes included: without a live session a page request is sent
to the login page and anything else gets a JSON 401. Cross-site request forgery is stopped twice:
the cookie is `SameSite=Strict`, and every request that changes something must come from this
site's own pages (`origins.py`: its `Origin` and `Sec-Fetch-Site`, which browsers send on such
requests) or, when the request names no page at all, carry the session's CSRF token
(`X-CSRF-Token`); the login form carries a token of its own (double-submit cookie).
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

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from assistant.console.origins import ELSEWHERE, LISTED, OWN, SAFE_METHODS, csrf_refused, normalise, where_from
from assistant.console.throttle import LoginThrottle
from assistant.stores.database import Database
from assistant.stores.tables import admin_sessions

COOKIE = "clinks_admin"
LOGIN_COOKIE = "clinks_admin_login"  # the login form's own CSRF token
OPEN_PATHS = ("/admin/login", "/admin/logout")
TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"


def error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message}}, headers=headers)


@dataclass(frozen=True)
class Verdict:
    """A password check: right or wrong, or not made at all (`wait` > 0: too many recent failures;
    try again after that many seconds; `unwritable`: the attempt could not be counted, because the
    disk is full or read-only, so no password is checked until it can be)."""

    ok: bool
    wait: int = 0
    unwritable: str = ""  # write_errors.DISK_FULL or READ_ONLY

    def unwritable_error(self) -> tuple[int, str, str]:
        """(status, code, message) for a check that could not be counted."""
        from assistant.stores import write_errors

        full = self.unwritable == write_errors.DISK_FULL
        where = "The server's disk is full" if full else "The server's data folder cannot be written (it is read-only)"
        return (
            507 if full else 503,
            self.unwritable,
            f"{where}, so the console cannot count a login attempt and checks no password until it can; "
            "nothing was changed.",
        )


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
        self.throttle = LoginThrottle(db, settings.admin_login_attempts)
        self.origins = frozenset(normalise(o) for o in settings.admin_origins)  # may change things too
        self.client_address = client_address  # scope -> the client's address (trusted proxy aware)

    def _derive(self, candidate: str) -> bytes:
        return hashlib.scrypt(candidate.encode("utf-8"), salt=self._salt, n=2**14, r=8, p=1, dklen=32)

    def check_password(self, candidate: str) -> bool:
        return hmac.compare_digest(self._derive(candidate[:1024]), self._hash)

    # ---- password checks
    def try_password(self, client: str, candidate: str | None) -> Verdict:
        """Check a password from an address, unless it has failed too often lately (then it is not
        checked at all). The attempt is counted before the check, so concurrent guesses cannot
        slip past the count."""
        from assistant.stores import write_errors

        try:
            attempt = self.throttle.reserve(client)
        except Exception as err:  # a full or read-only disk: refuse plainly (never check uncounted)
            kind = write_errors.kind_of(err)
            if kind is None:
                raise
            return Verdict(False, 0, kind)
        if attempt.row is None:
            return Verdict(False, attempt.wait)
        ok = False
        try:
            ok = candidate is not None and self.check_password(candidate)
        finally:  # a check that failed half-way counts as a wrong password
            (self.throttle.succeeded if ok else self.throttle.failed)(attempt)
        return Verdict(ok)

    def note_refusal(self, audit, who: str, client: str, wait: int) -> None:
        """An attempt refused without a check goes to the audit log (the first per address a minute)."""
        if self.throttle.worth_noting(client):
            audit.write(who, "login_throttled", f"too many failed logins; the password was not checked (wait {wait} s)")

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
            row = (
                conn.execute(sa.select(admin_sessions).where(admin_sessions.c.token_hash == _digest(token)))
                .mappings()
                .first()
            )
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

    @staticmethod
    def basic_password(header: str | None) -> str | None:
        """The password of HTTP Basic `admin:<password>`; "" for any other user name or a header
        that cannot be read (a wrong password then); None when there is no Basic header."""
        import base64
        import binascii

        if not header or not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return ""
        return password if hmac.compare_digest(user.encode(), b"admin") else ""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


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
            if (
                method == "GET"
                and "text/html" in headers.get("accept", "")
                and not path.startswith("/admin/gradio_api")
            ):
                response: Response = RedirectResponse(
                    "/admin/login" + ("?expired=1" if expired else ""), status_code=303
                )
            elif expired:
                response = error(401, "session_expired", "Your session has expired. Reload the page and log in again.")
            else:
                response = error(401, "login_required", "Log in to the staff console first, at /admin/login.")
            response.headers["Cache-Control"] = "no-store"
            await response(scope, receive, send)
            return
        if method not in SAFE_METHODS:
            token = headers.get("x-csrf-token", "")
            source = where_from(headers, self.auth.origins)  # another site's page: refused even with a token
            if source == ELSEWHERE or (source not in (OWN, LISTED) and not hmac.compare_digest(token, session.csrf)):
                await csrf_refused()(scope, receive, send)
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
        if (
            not token
            or not expected
            or not hmac.compare_digest(token, expected)
            or not _form_origin_ok(request, auth.origins)
        ):
            return login_page("The login form had expired or did not come from this site. Please try again.", 403, True)
        from starlette.concurrency import run_in_threadpool

        verdict = await run_in_threadpool(auth.try_password, client, password)
        if verdict.unwritable:
            status, _code, message = verdict.unwritable_error()
            return login_page(message[:1].upper() + message[1:], status, True)
        if verdict.wait:
            await run_in_threadpool(auth.note_refusal, audit, f"console {client}", client, verdict.wait)
            response = login_page(
                f"Too many failed logins from here. Please wait {waiting_time(verdict.wait)} and try again.", 429, True
            )
            response.headers["Retry-After"] = str(verdict.wait)
            return response
        if not verdict.ok:
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


def _form_origin_ok(request: Request, listed: frozenset[str]) -> bool:
    """A browser says which page sent the form; when it does, it must be this site (with no word
    of it, a script or an old browser, the double-submit token is the check)."""
    return where_from({k.lower(): v for k, v in request.headers.items()}, listed) != ELSEWHERE


def waiting_time(seconds: int) -> str:
    """12 -> "12 seconds"; 600 -> "10 minutes"."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
