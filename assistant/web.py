"""The web app: a JSON API, a health check and the Gradio chat, in one FastAPI app.

The routes stay thin: each calls the service and formats what comes back.
"""

from __future__ import annotations

import html
import os
import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse
from pydantic import BaseModel, Field

from assistant.answer import Answer, Turn
from assistant.service import Service
from assistant.settings import Settings

STATIC = Path(__file__).parent / "static"
MAX_HISTORY = 20
STARTERS = [
    "What does call-off mean?",
    "How do I qualify onto the Dynamic Framework?",
    "Which cyber security certificate do I need?",
    "How do I register for probation grants?",
]


class HistoryTurn(BaseModel):
    role: str = Field(pattern="^(user|assistant)$")
    content: str = Field(max_length=20000)


class AskRequest(BaseModel):
    question: str = Field(max_length=20000)
    history: list[HistoryTurn] = Field(default_factory=list, max_length=MAX_HISTORY)


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls to outside hosts
    service = service or Service(settings)
    settings = service.settings
    app = FastAPI(title="Clinks guidance assistant", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return JSONResponse(status_code=422, content={"error": f"The request was not understood ({problems})."})

    @app.post("/api/ask")
    def api_ask(body: AskRequest) -> dict:
        answer = service.ask(body.question, [Turn(t.role, t.content) for t in body.history])
        return answer.to_json()

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        ready = service.ready
        return JSONResponse(status_code=200 if ready else 503, content={"ok": ready, "index_loaded": ready})

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

    @app.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse("/chat/")

    import gradio as gr

    app = gr.mount_gradio_app(app, build_chat(service), path="/chat")
    return app


def build_chat(service: Service):
    import gradio as gr

    def respond(message: str, history: list[dict]):
        turns = [Turn(m["role"], _plain(m["content"])) for m in history if m.get("role") in ("user", "assistant")]
        answer = service.ask(message, turns)
        full = format_answer(answer)
        # Stream the words so the answer appears progressively, as people expect from a chat.
        shown = ""
        for word in full.split(" "):
            shown = f"{shown} {word}" if shown else word
            yield shown
            time.sleep(0.005)

    with gr.Blocks(title="Ask about probation commissioning", analytics_enabled=False) as chat:
        gr.Markdown("## Ask about probation commissioning")
        gr.ChatInterface(
            respond,
            chatbot=gr.Chatbot(label="Conversation", height=480, sanitize_html=True, render_markdown=True),
            textbox=gr.Textbox(placeholder="Ask a question, for example: what is market warming?", label="Your question",
                               max_length=20000),
            examples=STARTERS,
            analytics_enabled=False,
            flagging_mode="never",
            autofocus=False,
        )
        gr.Markdown(
            "Answers come from Clinks guidance and may be out of date: check them against the source linked."
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
        parts.append(
            f"<details><summary>Quote from source {c.n}</summary>\n\n{html.escape(c.quote)}\n\n</details>"
        )
    return "\n".join(parts)


def _plain(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # Gradio 6 may give message content as parts
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def serve() -> int:
    import uvicorn

    service = Service()
    summary = service.ensure_index()
    if summary:
        for line in summary.lines():
            print(line)
    service.deps()  # load the index before the first question, not during it
    settings = service.settings
    print(f"Serving the chat on http://{settings.host}:{settings.port}/chat/")
    uvicorn.run(create_app(service=service), host=settings.host, port=settings.port, log_level="warning")
    return 0
