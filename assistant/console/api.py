"""`/api/admin/*`: the console's actions and views as JSON, for scripts, with HTTP Basic
`admin:<password>` (the same password, checked and counted as the login form's is: `throttle.py`).
A call that changes something must also send `X-Requested-With: clinks-console` and must not come
from another site's page (`origins.py`, in front of this). Every such call is written to the audit log."""

from __future__ import annotations

from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from assistant.console.auth import Auth, error
from assistant.console.corpus import ChangeRefused, Corpus
from assistant.console.gaps import to_csv
from assistant.console.reports import Reports


class SourceRequest(BaseModel):
    url: str = Field(max_length=2000)
    include: list[str] = Field(default_factory=list, max_length=50)
    refresh: str = Field("", max_length=20)


REALM = {"WWW-Authenticate": 'Basic realm="Clinks staff console", charset="UTF-8"'}


class BasicGate:
    """Every /api/admin/ route: Basic admin:<password>, or nothing is shown. A plain ASGI middleware:
    every other request passes through untouched (a streamed answer, a page whose visitor leaves)."""

    def __init__(self, app, auth: Auth, audit) -> None:
        self.app = app
        self.auth = auth
        self.audit = audit

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/api/admin" or path.startswith("/api/admin/")):
            await self.app(scope, receive, send)
            return
        auth, audit = self.auth, self.audit
        client = auth.client_address(scope)
        password = auth.basic_password(Request(scope).headers.get("authorization"))
        if password is None:
            response = error(
                401, "login_required", "Send HTTP Basic credentials: admin and the console password.", REALM
            )
            await response(scope, receive, send)
            return
        verdict = await run_in_threadpool(auth.try_password, client, password)
        if verdict.wait:
            await run_in_threadpool(auth.note_refusal, audit, f"api {client}", client, verdict.wait)
            response = error(
                429,
                "too_many_logins",
                f"Too many failed logins from here; try again in {verdict.wait} seconds.",
                {"Retry-After": str(verdict.wait)},
            )
            await response(scope, receive, send)
            return
        if not verdict.ok:
            await run_in_threadpool(audit.write, f"api {client}", "login_failed", "")
            await error(401, "wrong_password", "That user name or password is not right.", REALM)(scope, receive, send)
            return
        scope.setdefault("state", {})["who"] = f"api {client}"  # request.state.who in the routes
        await self.app(scope, receive, send)


def add_api(app: FastAPI, auth: Auth, corpus: Corpus, reports: Reports, audit, sources) -> None:
    app.user_middleware.append(Middleware(BasicGate, auth=auth, audit=audit))

    def refused(err: ChangeRefused) -> JSONResponse:
        return error(err.status, err.code, str(err))

    @app.get("/api/admin/documents")
    def documents() -> dict:
        return {"documents": reports.documents(corpus.status()), "job": _job(corpus.latest_job())}

    @app.post("/api/admin/documents", status_code=202)
    async def upload(request: Request, file: UploadFile = File(...)) -> Response:  # noqa: B008 - FastAPI's way
        data = await file.read(corpus.max_bytes + 1)
        try:
            job = await run_in_threadpool(corpus.upload, file.filename or "", data, request.state.who)
        except ChangeRefused as err:
            return refused(err)
        return JSONResponse(status_code=202, content={"job": job.to_json()})

    @app.delete("/api/admin/documents/{name}", status_code=202)
    def remove(name: str, request: Request) -> Response:
        try:
            job = corpus.remove(name, request.state.who)
        except ChangeRefused as err:
            return refused(err)
        return JSONResponse(status_code=202, content={"job": job.to_json()})

    @app.get("/api/admin/jobs/{job_id}")
    def job(job_id: int) -> Response:
        found = corpus.job(job_id)
        if found is None:
            return error(404, "not_found", "There is no such job.")
        return JSONResponse({"job": found.to_json()})

    @app.get("/api/admin/files/{which}")
    def read_file(which: str) -> Response:
        if which not in ("assistant.yaml", "glossary.yaml"):
            return error(404, "not_found", "Only assistant.yaml and glossary.yaml can be read here.")
        return PlainTextResponse(corpus.read_file(which), media_type="application/yaml")

    @app.put("/api/admin/files/{which}", status_code=202)
    async def save_file(which: str, request: Request) -> Response:
        if which not in ("assistant.yaml", "glossary.yaml"):
            return error(404, "not_found", "Only assistant.yaml and glossary.yaml can be changed here.")
        body = await request.body()
        try:
            text = body.decode("utf-8")
            found = await run_in_threadpool(corpus.save_file, which, text, request.state.who)
        except UnicodeDecodeError:
            return error(422, "invalid_text", "Send the file as UTF-8 text.")
        except ChangeRefused as err:
            return refused(err)
        return JSONResponse(status_code=202, content={"job": found.to_json()})

    @app.get("/api/admin/sources")
    def web_sources() -> dict:
        return sources.view()

    @app.post("/api/admin/sources", status_code=202)
    def add_source(body: SourceRequest, request: Request) -> Response:
        try:
            found = sources.add(body.url, ",".join(body.include), body.refresh, request.state.who)
        except ChangeRefused as err:
            return refused(err)
        return JSONResponse(status_code=202, content={"job": found.to_json()})

    @app.delete("/api/admin/sources", status_code=202)
    def remove_source(request: Request, url: str = Query(..., max_length=2000)) -> Response:
        try:
            found = sources.remove(url, request.state.who)
        except ChangeRefused as err:
            return refused(err)
        return JSONResponse(status_code=202, content={"job": found.to_json()})

    @app.post("/api/admin/sync")
    def sync_now(request: Request) -> Response:
        report = sources.sync_now(request.state.who)
        if report is None:
            return error(409, "sync_running", "A sync is already running; try again when it has finished.")
        return JSONResponse(report.to_json())

    @app.get("/api/admin/unanswered")
    def unanswered(days: int = Query(30, ge=1, le=3650)) -> dict:
        return reports.unanswered(days)

    @app.get("/api/admin/unanswered.csv")
    def unanswered_csv(days: int = Query(30, ge=1, le=3650)) -> Response:
        return Response(
            to_csv(reports.topics(days)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="unanswered-{days}-days.csv"'},
        )

    @app.get("/admin/export/unanswered.csv", include_in_schema=False)
    def console_csv(days: int = Query(30, ge=1, le=3650)) -> Response:
        """The console's own download (behind the session gate, like everything under /admin/)."""
        return unanswered_csv(days)

    @app.get("/api/admin/weekly")
    def weekly(weeks: int = Query(12, ge=1, le=104)) -> dict:
        return {"weeks": reports.weekly(weeks)}

    @app.get("/api/admin/feedback")
    def feedback(days: int = Query(30, ge=1, le=3650)) -> dict:
        return reports.feedback_report(days)

    @app.get("/api/admin/audit")
    def audit_log(limit: int = Query(200, ge=1, le=2000)) -> dict:
        return {"entries": reports.audit_entries(limit)}


def _job(job) -> dict | None:
    return job.to_json() if job else None
