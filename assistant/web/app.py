"""The web app: a JSON API, a health check and the public chat (`chat_web.py`), in one FastAPI app.

The routes stay thin: each calls the service and formats what comes back. Nothing here imports
Gradio: the public app starts in the time it takes to load the index.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field, StrictBool

from assistant.answering.answer import Turn
from assistant.service import Service
from assistant.settings import Settings, cores
from assistant.stores.database import open_database
from assistant.stores.feedback import REASONS, FeedbackStore, FeedbackUnavailable
from assistant.stores.records import Recorder
from assistant.web import http_errors
from assistant.web.client_address import ClientAddress
from assistant.web.guard import RequestGuard
from assistant.web.http_errors import ApiError
from assistant.web.serving import Served

log = logging.getLogger(__name__)
# Gradio's front-end files under the console (behind its login, but the same in every install).
GRADIO_ASSETS = ("/admin/assets/", "/admin/static/", "/admin/svelte/", "/admin/favicon.ico")

MAX_HEADER_BYTES = 16 * 1024  # a request's line and headers; beyond: 400 and the connection closed
KEEP_ALIVE_SECONDS = 5  # an idle connection is closed after this


class HistoryTurn(BaseModel):
    role: str = Field(pattern="^(user|assistant)$")
    content: str = Field(max_length=20000)


class FeedbackRequest(BaseModel):
    answer_id: str = Field(min_length=8, max_length=128, pattern="^[0-9a-f]+$")
    helpful: StrictBool
    reason: Literal[tuple(REASONS)] | None = None  # after a thumbs down: one of a fixed list, never free text


class AskRequest(BaseModel):
    question: str = Field(max_length=20000)
    history: list[HistoryTurn] = Field(default_factory=list, max_length=200)
    # The chat's random id for this conversation (stores/conversations.py): the console counts how
    # many conversations asked about a topic. Optional; never tied to a person.
    conversation: str | None = Field(None, pattern="^[0-9a-f]{16,64}$")


def history_problem(history: list[HistoryTurn], settings: Settings) -> str | None:
    """Why a request's history is refused (too many turns, a turn or all of them too long), or None.
    Only the last few turns are read (see pipeline.bounded_history); these limits bound the body."""
    if len(history) > settings.max_history_turns:
        return (
            f"The conversation history has {len(history)} turns; send at most {settings.max_history_turns} "
            "(only the last few are used)."
        )
    longest = max((len(t.content) for t in history), default=0)
    if longest > settings.max_history_turn_chars:
        return (
            f"A turn of the conversation history is too long: at most {settings.max_history_turn_chars:,} characters."
        )
    total = sum(len(t.content) for t in history)
    if total > settings.max_history_chars:
        return f"The conversation history is too long: at most {settings.max_history_chars:,} characters in all."
    return None


def check_history(history: list[HistoryTurn], settings: Settings) -> None:
    problem = history_problem(history, settings)
    if problem:
        raise ApiError(422, "history_too_long", problem)


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    service = service or Service(settings)
    settings = settings or service.settings  # the web's own settings (limits, origins) may differ in tests
    app = FastAPI(title=service.profile.name, docs_url=None, redoc_url=None, openapi_url=None)
    db = open_database(settings.records_url)
    feedback = FeedbackStore(db)
    recorder = Recorder(db, settings.keep_questions, settings.keep_days)
    app.state.recorder = recorder
    recorder.start()

    from fastapi.middleware.cors import CORSMiddleware

    # Outermost first: every response gets the security headers (http_errors), CORS lets an
    # embedding site read even a refusal, and the guard refuses before any work is done.
    app.add_middleware(RequestGuard, settings=settings)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_methods=["POST"],
        allow_headers=["content-type"],
        allow_credentials=False,
    )
    http_errors.install(app, security_headers(settings))
    app.add_middleware(Served)  # outermost: HEAD as GET without the body, gzip (serving.py)
    # Answering runs in a pool of threads, one per core this process has (the cores shared among the
    # worker processes): the event loop stays free to accept or refuse other requests meanwhile.
    threads = settings.answer_threads or max(1, cores() // settings.workers)
    answering = ThreadPoolExecutor(threads, thread_name_prefix="answer")
    app.state.answering = answering  # the stream (chat_web.py) answers in the same pool

    @app.post("/api/ask")
    async def api_ask(body: AskRequest) -> JSONResponse:
        check_history(body.history, settings)
        turns = [Turn(t.role, t.content) for t in body.history]
        answer = await asyncio.get_running_loop().run_in_executor(answering, service.ask, body.question, turns)
        recorder.answered(body.question, answer, body.conversation)  # a queue put: the writing happens on another thread
        return JSONResponse(answer.to_json())  # plain JSON types already: no encoder pass on the event loop

    @app.post("/api/feedback")
    def api_feedback(body: FeedbackRequest) -> dict:
        if not service.answer_ids.issued(body.answer_id):
            raise ApiError(
                422, "unknown_answer", "That answer id was not given by this assistant (or is from before a restart)."
            )
        recent = recorder.thumbs(body.answer_id, body.helpful, body.reason)
        try:
            feedback.record(
                body.answer_id,
                body.helpful,
                body.reason,
                answer_text=recent.text if recent else None,
                sources=recent.sources if recent else None,
            )
        except FeedbackUnavailable as err:
            log.warning("%s", err)
            raise ApiError(
                503, "feedback_unavailable", "Your feedback could not be saved at the moment; the answers still work."
            ) from err
        return {"ok": True}

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """Each part, and 503 when answering is degraded (keyword search only) or impossible."""
        parts = service.health()
        writable, detail = feedback.writable()
        parts["feedback_store"] = {"ok": writable, "detail": detail}
        # Declined questions and weekly counts (for the console): the last write, until one succeeds.
        failure = recorder.last_failure
        parts["question_records"] = {"ok": failure is None, "detail": failure or "ok"}
        if not parts["index"]["ok"]:
            status = "unavailable"
        elif not parts["vector_store"]["ok"]:
            status = "degraded"
        else:
            status = "ok"  # feedback that cannot be saved does not stop the answers
        return JSONResponse(
            status_code=200 if status == "ok" else 503,
            content={"ok": status == "ok", "status": status, "embedder": service.embedder.name, "parts": parts},
        )

    @app.get("/documents/{path:path}")
    def document(path: str):
        """The app's own copy of an indexed document (those without a public URL link here). Only
        names the index holds are served; nothing else in the corpus folder is reachable."""
        if path not in service.indexed_documents():
            raise ApiError(404, "not_found", "There is no such document.")
        target = settings.corpus_dir / path
        if not target.is_file():
            raise ApiError(404, "not_found", "There is no such document.")
        return served_document(target)

    from assistant.web.chat import add_chat  # here, not at the top: it takes AskRequest from this module

    add_chat(app, service, AskRequest, lambda body: check_history(body.history, settings), recorder)
    if settings.admin_password is not None and settings.admin_password.get_secret_value():
        from assistant.console import add_console

        add_console(app, service, db, recorder, ClientAddress(settings))
    return app


def served_document(target: Path):
    """A document as the app serves it: Markdown, text and HTML as plain text (an HTML page's markup
    is shown, never run), a PDF inline for the browser's own viewer, anything else (a Word file) as
    a download. Never as active content: the sandbox CSP (security_headers) is a second wall."""
    suffix = target.suffix.lower()
    if suffix in (".md", ".markdown", ".txt", ".html", ".htm"):
        return PlainTextResponse(target.read_text(encoding="utf-8", errors="replace"))
    if suffix == ".pdf":
        return FileResponse(target, media_type="application/pdf")
    return FileResponse(target, filename=target.name, content_disposition_type="attachment")


def security_headers(settings: Settings):
    """The headers for a path. The app's pages load nothing but the app's own files (no inline
    script or style), and only the sites named in ASSISTANT_ALLOWED_ORIGINS may frame them; a served
    document may run nothing at all (a PDF is left to the browser's own viewer, which a sandbox
    would block). The staff console's Gradio pages need inline scripts and styles, and evaluate
    their HTML components' templates ('unsafe-eval'): only they get these, only behind the login,
    never framed, and still nothing from other hosts. Nothing under /admin/ or /api/admin/ is kept
    by a browser or a proxy (`no-store`) but Gradio's own front-end files. The console's pages tell
    their own site (only) where a request came from, so that a browser sends their real Origin on a
    POST (with no-referrer it sends "null"), which the console's CSRF check reads."""
    frame_ancestors = "frame-ancestors " + " ".join(["'self'", *settings.allowed_origins])
    common = [(b"referrer-policy", b"no-referrer"), (b"x-content-type-options", b"nosniff")]
    policy = f"default-src 'self'; base-uri 'self'; form-action 'self'; {frame_ancestors}"
    strict = [(b"content-security-policy", policy.encode()), *common]
    pdf = [(b"content-security-policy", frame_ancestors.encode()), *common]
    document = [(b"content-security-policy", f"sandbox; default-src 'none'; {frame_ancestors}".encode()), *common]
    console_policy = (
        "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' blob:; worker-src 'self' blob:; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    console_common = [(b"referrer-policy", b"same-origin"), (b"x-content-type-options", b"nosniff")]
    console_assets = [(b"content-security-policy", console_policy.encode()), *console_common]
    # What the console shows is for the logged-in editor only: never kept by a browser or a proxy
    # (Gradio's own script, style and font files, the same in every install, may be).
    no_store = (b"cache-control", b"no-store")
    console = [*console_assets, no_store]
    login_policy = b"default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    login = [(b"content-security-policy", login_policy), *console_common, no_store]
    staff_api = [*strict, no_store]

    def headers_for(path: str) -> list[tuple[bytes, bytes]]:
        if path.startswith("/documents/"):
            return pdf if path.lower().endswith(".pdf") else document
        if path.startswith(("/admin/login", "/admin/logout")):
            return login
        if path.startswith(GRADIO_ASSETS):
            return console_assets
        if path == "/admin" or path.startswith("/admin/"):
            return console
        if path == "/api/admin" or path.startswith("/api/admin/"):
            return staff_api
        return strict

    return headers_for


def serve(host: str | None = None, port: int | None = None, workers: int | None = None) -> int:
    """`assistant serve`: ingest first if there is no index, then serve with one or more processes.
    Several workers share the one index on disk; each picks up a new `assistant ingest` by itself."""
    import uvicorn

    # Flags become settings, so that worker processes (which read the environment) see them too.
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"ASSISTANT_{name}"] = str(value)
    # Serving answers several questions at once, one per thread and process: one ONNX thread each
    # uses the cores without handing work between threads (measured: more answers/s, less CPU each).
    os.environ.setdefault("ASSISTANT_EMBED_THREADS", "1")
    service = Service()
    summary = service.ensure_index()
    if summary:
        for line in summary.lines():
            print(line)
    settings = service.settings
    if settings.shares_index and not settings.answer_id_key:
        log.warning(
            "The index is shared with other machines, but ASSISTANT_ANSWER_ID_KEY is not set: set it to the same "
            "secret on every machine, or feedback that reaches another machine than the one that answered is refused."
        )
    print(f"Serving the chat on http://{settings.host}:{settings.port}/ with {settings.workers} process(es)")
    options = server_options(settings)
    if settings.workers == 1:
        app = _loaded_app(service)
        uvicorn.run(app, host=settings.host, port=settings.port, **options)
        return 0
    # One key for every worker, so that feedback on an answer from one is accepted by another.
    os.environ["ASSISTANT_ANSWER_ID_KEY"] = service.answer_ids.key.decode()
    uvicorn.run(
        "assistant.web.app:worker_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        **options,
    )
    return 0


def server_options(settings: Settings) -> dict:
    """uvicorn's own limits. h11, not httptools: it bounds a request's headers (httptools took 2 MB
    of them here, all kept in memory). uvicorn has no time limit on the headers of a request; behind
    deploy/nginx-site.conf, nginx's client_header_timeout cuts off slow headers (and its
    client_body_timeout slow bodies; the guard's body_timeout_s does that here too). Forwarded
    headers (X-Forwarded-For, -Proto) are believed only when ASSISTANT_CLIENT_IP_HEADER is set, and
    then only from ASSISTANT_TRUSTED_PROXIES (uvicorn would otherwise believe 127.0.0.1 always)."""
    return {
        "http": "h11",
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "proxy_headers": bool(settings.client_ip_header),
        "forwarded_allow_ips": list(settings.trusted_proxies),
        "log_level": "warning",
    }


def worker_app() -> FastAPI:
    """The app in one of several worker processes (`serve --workers N`)."""
    return _loaded_app(Service())


def _loaded_app(service: Service) -> FastAPI:
    from assistant.answering.spelling import preload

    service.deps()  # load the index before the first question, not during it
    preload()  # and the spelling list (0.1-0.4 s), which the first misspelt question would wait for
    app = create_app(service=service)
    from assistant.sources.schedule import SyncSchedule

    app.state.web_sync = SyncSchedule(service).start()  # the web sources kept fresh (assistant/sources/)
    # Everything loaded so far lives as long as the process: keep it out of the garbage
    # collector's full passes, which otherwise pause answering for tens of milliseconds.
    gc.freeze()
    return app
