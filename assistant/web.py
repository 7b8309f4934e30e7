"""The web app: a JSON API, a health check and the public chat (`chat_web.py`), in one FastAPI app.

The routes stay thin: each calls the service and formats what comes back. Nothing here imports
Gradio: the public app starts in the time it takes to load the index.
"""

from __future__ import annotations

from typing import Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from assistant.answer import Turn
from assistant.feedback import REASONS, FeedbackStore
from assistant.records import Recorder
from assistant.service import Service
from assistant.settings import Settings
from assistant.stores.database import open_database

MAX_HISTORY = 20


class HistoryTurn(BaseModel):
    role: str = Field(pattern="^(user|assistant)$")
    content: str = Field(max_length=20000)


class FeedbackRequest(BaseModel):
    answer_id: str = Field(min_length=8, max_length=64, pattern="^[0-9a-f]+$")
    helpful: bool
    reason: Literal[tuple(REASONS)] | None = None  # after a thumbs down: one of a fixed list, never free text


class AskRequest(BaseModel):
    question: str = Field(max_length=20000)
    history: list[HistoryTurn] = Field(default_factory=list, max_length=MAX_HISTORY)


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    service = service or Service(settings)
    settings = service.settings
    app = FastAPI(title=service.profile.name, docs_url=None, redoc_url=None, openapi_url=None)
    db = open_database(settings.records_url)
    feedback = FeedbackStore(db)
    recorder = Recorder(
        db,
        settings.keep_questions,
        settings.keep_days,
        embed=lambda text: service.embedder.embed_query(text),
        embedder_name=lambda: service.embedder.name,
    )
    app.state.recorder = recorder
    frame_ancestors = " ".join(["'self'", *settings.allowed_origins])
    # The staff console's Gradio pages need inline scripts and styles, and evaluate their HTML
    # components' templates ('unsafe-eval'): only they get these, and only behind the login.
    console_csp = (
        "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' blob:; worker-src 'self' blob:; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        # The app's pages load nothing but the app's own files (no inline script or style), and only
        # the sites named in ASSISTANT_ALLOWED_ORIGINS may show them in an iframe.
        path = request.url.path
        if path.startswith("/admin/") and not path.startswith(("/admin/login", "/admin/logout")):
            response.headers["Content-Security-Policy"] = console_csp
            response.headers["Cache-Control"] = response.headers.get("Cache-Control", "no-store")
        else:
            response.headers["Content-Security-Policy"] = (
                f"default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors {frame_ancestors}"
            )
        # The console's pages tell only their own site where a request came from: a browser then sends
        # their real Origin on a POST (with no-referrer it sends "null"), which its CSRF check reads.
        response.headers["Referrer-Policy"] = "same-origin" if path.startswith("/admin") else "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    from fastapi.middleware.cors import CORSMiddleware

    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_methods=["POST"],
        allow_headers=["content-type"],
        allow_credentials=False,
    )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return JSONResponse(status_code=422, content={"error": f"The request was not understood ({problems})."})

    @app.post("/api/ask")
    def api_ask(body: AskRequest) -> dict:
        answer = service.ask(body.question, [Turn(t.role, t.content) for t in body.history])
        recorder.answered(body.question, answer)
        return answer.to_json()

    @app.post("/api/feedback")
    def api_feedback(body: FeedbackRequest) -> dict:
        recent = recorder.thumbs(body.answer_id, body.helpful, body.reason)
        feedback.record(
            body.answer_id,
            body.helpful,
            body.reason,
            answer_text=recent.text if recent else None,
            sources=recent.sources if recent else None,
        )
        return {"ok": True}

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        ready = service.ready
        return JSONResponse(
            status_code=200 if ready else 503,
            content={
                "ok": ready,
                "index_loaded": ready,
                "embedder": service.embedder.name,
            },
        )

    @app.get("/documents/{path:path}")
    def document(path: str):
        """The app's own copy of a corpus file that has no public URL of its own."""
        root = settings.corpus_dir.resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return JSONResponse(status_code=404, content={"error": "No such document."})
        if target.suffix.lower() in (".md", ".txt", ".markdown"):
            return PlainTextResponse(target.read_text(encoding="utf-8", errors="replace"))
        return FileResponse(target)

    from assistant.chat_web import add_chat  # here, not at the top: it takes AskRequest from this module

    add_chat(app, service, AskRequest, recorder)
    if settings.admin_password is not None and settings.admin_password.get_secret_value():
        from assistant.console import add_console

        add_console(app, service, db, recorder, client_address)
    return app


def client_address(scope) -> str:
    """The address of whoever sent a request (for the console's login limit and audit log)."""
    return str((scope.get("client") or ("unknown", 0))[0])


def serve(host: str | None = None, port: int | None = None) -> int:
    import uvicorn

    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    service = Service(Settings(**overrides))
    summary = service.ensure_index()
    if summary:
        for line in summary.lines():
            print(line)
    service.deps()  # load the index before the first question, not during it
    app = create_app(service=service)
    settings = service.settings
    print(f"Serving the chat on http://{settings.host}:{settings.port}/")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0
