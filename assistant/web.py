"""The web app: a JSON API, a health check and the Gradio chat, in one FastAPI app.

The routes stay thin: each calls the service and formats what comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import html
import json
import logging
import os
import secrets
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, StrictBool

from assistant import http_errors
from assistant.answer import Answer, Turn
from assistant.feedback import FeedbackStore, FeedbackUnavailable
from assistant.guard import RequestGuard
from assistant.http_errors import ApiError
from assistant.service import Service
from assistant.settings import Settings, cores

STATIC = Path(__file__).parent / "static"
log = logging.getLogger(__name__)


class HistoryTurn(BaseModel):
    role: str = Field(pattern="^(user|assistant)$")
    content: str = Field(max_length=20000)


class FeedbackRequest(BaseModel):
    answer_id: str = Field(min_length=8, max_length=128, pattern="^[0-9a-f.]+$")
    helpful: StrictBool


class AskRequest(BaseModel):
    question: str = Field(max_length=20000)
    history: list[HistoryTurn] = Field(default_factory=list, max_length=200)


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


STARTING_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="refresh" content="2">
<title>$title</title></head><body style="font-family: system-ui, sans-serif">
<main><h1>$title</h1><p role="status">The chat is starting. This page will
refresh in a moment.</p></main></body></html>"""


def create_app(settings: Settings | None = None, service: Service | None = None, defer_chat: bool = False) -> FastAPI:
    """The app. With `defer_chat`, the API answers at once and the chat is mounted once Gradio
    (about 4 s to import on a small server) has loaded."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls to outside hosts
    service = service or Service(settings)
    settings = settings or service.settings  # the web's own settings (limits, origins) may differ in tests
    app = FastAPI(title=service.profile.name, docs_url=None, redoc_url=None, openapi_url=None)
    feedback = FeedbackStore(settings.data_dir / "feedback.sqlite3")

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
    # Answering runs in a pool of threads, one per core this process has (the cores shared among the
    # worker processes): the event loop stays free to accept or refuse other requests meanwhile.
    threads = settings.answer_threads or max(1, cores() // settings.workers)
    answering = ThreadPoolExecutor(threads, thread_name_prefix="answer")
    app.state.answering = answering  # for any other answering route (a streaming one) to share

    @app.post("/api/ask")
    async def api_ask(body: AskRequest) -> JSONResponse:
        problem = history_problem(body.history, settings)
        if problem:
            raise ApiError(422, "history_too_long", problem)
        turns = [Turn(t.role, t.content) for t in body.history]
        answer = await asyncio.get_running_loop().run_in_executor(answering, service.ask, body.question, turns)
        return JSONResponse(answer.to_json())  # plain JSON types already: no encoder pass on the event loop

    @app.post("/api/feedback")
    def api_feedback(body: FeedbackRequest) -> dict:
        if not service.answer_ids.issued(body.answer_id):
            raise ApiError(
                422, "unknown_answer", "That answer id was not given by this assistant (or is from before a restart)."
            )
        try:
            feedback.record(body.answer_id, body.helpful)
        except FeedbackUnavailable as err:
            log.warning("%s", err)
            raise ApiError(
                503, "feedback_unavailable", "Your feedback could not be saved at the moment; the answers still work."
            ) from err
        return {"ok": True}

    @app.get("/embed.js")
    def embed_js() -> Response:
        # The launcher's label is the deployer's title, as a JSON string (safe inside the script).
        title = json.dumps(service.profile.title)[1:-1].replace("<", "\\u003c")
        script = (STATIC / "embed.js").read_text(encoding="utf-8").replace("__ASSISTANT_TITLE__", title)
        return Response(script, media_type="application/javascript")

    chat_state = {"loaded": not defer_chat}

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """Each part, and 503 when answering is degraded (keyword search only) or impossible."""
        parts = service.health()
        writable, detail = feedback.writable()
        parts["feedback_store"] = {"ok": writable, "detail": detail}
        if not parts["index"]["ok"]:
            status = "unavailable"
        elif not parts["vector_store"]["ok"]:
            status = "degraded"
        else:
            status = "ok"  # feedback that cannot be saved does not stop the answers
        return JSONResponse(
            status_code=200 if status == "ok" else 503,
            content={
                "ok": status == "ok",
                "status": status,
                "embedder": service.embedder.name,
                "chat_loaded": chat_state["loaded"],
                "parts": parts,
            },
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
        if target.suffix.lower() in (".md", ".txt", ".markdown"):
            return PlainTextResponse(target.read_text(encoding="utf-8", errors="replace"))
        return FileResponse(target)

    @app.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse("/chat/")

    if defer_chat:
        _mount_chat_when_loaded(app, service, feedback, chat_state)
    else:
        _mount_chat(app, build_chat(service, feedback))
    return app


def security_headers(settings: Settings):
    """The headers for a path. Only the sites named in ASSISTANT_ALLOWED_ORIGINS may frame the app;
    its own pages load nothing but their own files. The Gradio chat (/chat) needs inline scripts,
    so it gets frame-ancestors only; a served document may run nothing at all (a PDF is left to the
    browser's own viewer, which a sandbox would block)."""
    frame_ancestors = "frame-ancestors " + " ".join(["'self'", *settings.allowed_origins])
    common = [(b"referrer-policy", b"no-referrer"), (b"x-content-type-options", b"nosniff")]
    strict = [(b"content-security-policy", f"default-src 'self'; {frame_ancestors}".encode()), *common]
    chat = [(b"content-security-policy", frame_ancestors.encode()), *common]
    document = [(b"content-security-policy", f"sandbox; default-src 'none'; {frame_ancestors}".encode()), *common]

    def headers_for(path: str) -> list[tuple[bytes, bytes]]:
        if path == "/chat" or path.startswith("/chat/"):
            return chat
        if path.startswith("/documents/"):
            return chat if path.lower().endswith(".pdf") else document
        return strict

    return headers_for


def _mount_chat(app: FastAPI, blocks) -> None:
    import gradio as gr

    gr.mount_gradio_app(app, blocks, path="/chat", footer_links=[], head=ESCAPE_TO_PARENT)


def _mount_chat_when_loaded(app: FastAPI, service: Service, feedback: FeedbackStore, state: dict) -> None:
    """Show a "starting" page at /chat/ until Gradio has loaded, then mount the real chat and run
    the start-up that `mount_gradio_app` would otherwise run in the app's lifespan."""

    @app.get("/chat", include_in_schema=False)
    @app.get("/chat/", include_in_schema=False)
    def chat_starting() -> HTMLResponse:
        page = STARTING_PAGE.replace("$title", html.escape(service.profile.title))
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    placeholders = [r for r in app.router.routes if getattr(r, "path", "") in ("/chat", "/chat/")]
    gradio_context = contextlib.AsyncExitStack()

    async def load() -> None:
        loop = asyncio.get_running_loop()
        blocks = await loop.run_in_executor(None, build_chat, service, feedback)  # the slow import
        _mount_chat(app, blocks)
        for route in placeholders:
            app.router.routes.remove(route)
        gradio_app = app.router.routes[-1].app
        await gradio_context.enter_async_context(gradio_app.router.lifespan_context(gradio_app))
        gradio_app.get_blocks().run_startup_events()
        await gradio_app.get_blocks().run_extra_startup_events()
        state["loaded"] = True
        # Everything loaded so far lives as long as the process: keep it out of the garbage
        # collector's full passes, which otherwise pause answering for tens of milliseconds.
        gc.freeze()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        task = asyncio.create_task(load())
        yield
        task.cancel()
        await gradio_context.aclose()

    app.router.lifespan_context = lifespan


# In the embedded panel, Escape inside the chat must close the panel too.
ESCAPE_TO_PARENT = (
    "<script>document.addEventListener('keydown',function(e){if(e.key==='Escape'&&window.parent!==window)"
    "{window.parent.postMessage('clinks-assistant:escape','*')}});</script>"
)


def build_chat(service: Service, feedback: FeedbackStore):
    import gradio as gr

    answer_ids: OrderedDict[str, str] = OrderedDict()  # shown text -> answer id, for the thumbs

    def respond(message: str, history: list[dict]):
        turns = [Turn(m["role"], _plain(m["content"])) for m in history if m.get("role") in ("user", "assistant")]
        answer = service.ask(message, turns)
        full = format_answer(answer)
        answer_ids[_key(full)] = answer.answer_id
        while len(answer_ids) > 10000:
            answer_ids.popitem(last=False)
        # Stream the words so the answer appears progressively, as people expect from a chat.
        shown = ""
        for word in full.split(" "):
            shown = f"{shown} {word}" if shown else word
            yield shown
            time.sleep(0.005)

    def record(data: gr.LikeData) -> None:
        answer_id = answer_ids.get(_key(_plain(data.value)))
        if answer_id:
            feedback.record(answer_id, bool(data.liked))

    # Gradio finds the LikeData argument by its annotation, which must be the class, not a string.
    record.__annotations__["data"] = gr.LikeData

    profile = service.profile
    with gr.Blocks(title=profile.title, analytics_enabled=False) as chat:
        gr.Markdown(f"# {profile.title}")
        chatbot = gr.Chatbot(
            label="Conversation", height=480, sanitize_html=True, render_markdown=True, buttons=["copy", "copy_all"]
        )
        chatbot.like(record, None, None)
        gr.ChatInterface(
            respond,
            chatbot=chatbot,
            textbox=gr.Textbox(
                placeholder="Ask a question, for example: what is market warming?",
                label="Your question",
                max_length=20000,
            ),
            examples=list(profile.starter_questions) or None,
            analytics_enabled=False,
            flagging_mode="never",
            autofocus=False,
        )
        gr.Markdown(
            "Answers come from the guidance documents and may be out of date: check them against the source linked."
        )
    return chat


def format_answer(answer: Answer) -> str:
    """Markdown for the chat: the answer, then numbered sources with their quoted passage."""
    if not answer.citations:
        return answer.text
    parts = [answer.text, "", "**Sources**"]
    for c in answer.citations:
        dated = f" ({c.date})" if c.date else ""
        parts.append(f"{c.n}. [{c.title}: {c.section}]({c.url}){dated}")
    for c in answer.citations:
        dated = f", {c.date}" if c.date else ""
        # One HTML block with no blank line inside, so Markdown keeps the quote within <details>.
        quote = "<br>".join(html.escape(line) for line in c.quote.splitlines() if line.strip())
        parts.append(
            f"<details><summary>Quote from source {c.n}: {html.escape(c.title)}{dated}</summary>"
            f"<blockquote>{quote}</blockquote></details>"
        )
    return "\n".join(parts)


def _key(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def _plain(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # Gradio 6 may give message content as parts
        return " ".join(
            p if isinstance(p, str) else str(p.get("text", "")) for p in content if isinstance(p, (str, dict))
        )
    return str(content)


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
    print(f"Serving the chat on http://{settings.host}:{settings.port}/chat/ with {settings.workers} process(es)")
    if settings.workers == 1:
        service.deps()  # load the index before the first question, not during it
        app = create_app(service=service, defer_chat=True)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
        return 0
    # One key for every worker, so that feedback on an answer from one is accepted by another.
    os.environ.setdefault("ASSISTANT_ANSWER_ID_KEY", secrets.token_hex(32))
    uvicorn.run(
        "assistant.web:worker_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
    )
    return 0


def worker_app() -> FastAPI:
    """The app in one of several worker processes (`serve --workers N`)."""
    service = Service()
    service.deps()
    return create_app(service=service, defer_chat=True)
