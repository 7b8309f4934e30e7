"""The public chat: the page at `/`, the widget loader `/embed.js`, their static files, and the
streaming answer `POST /api/ask/stream` (Server-Sent Events).

One front-end serves both: `static/chat.js` defines the `<clinks-chat>` element (plain HTML, CSS
and script, no build step, no framework), which the page shows inline and the widget shows in a
dialog on another site. The deployer's profile (`assistant.yaml`) reaches it as JSON: in a data
attribute of the page, or in `embed.js`. See docs/decisions/006-public-chat.md.

Every string the chat shows comes from a locale file (`static/locales/en-GB.json`, `cy.json`); the
deployer's file chooses the default (`language: cy`), and a person can switch. Files are served
under a content hash (serving.py), so a host site's visitors fetch them once.
"""

import html
import json
import re
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import iterate_in_threadpool

from assistant.answering.answer import Answer, Turn
from assistant.service import Service
from assistant.stores.feedback import REASONS
from assistant.web.serving import CHECK_FIRST, LOADER, VersionedStatic, cached, content_version

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
LOCALES = STATIC / "locales"
WORDS_PER_EVENT = 4


def add_chat(app: FastAPI, service: Service, ask_request: type, check_body=None, recorder=None) -> None:
    """Register the public chat's routes on the app. `ask_request` is the body model of `/api/ask`,
    so the stream takes exactly the same body and gives exactly the same errors; `check_body(body)`
    refuses what `/api/ask` refuses beyond the model (the history limits)."""
    version = content_version(STATIC)
    app.mount("/static", VersionedStatic(directory=STATIC, version=version), name="static")
    page = (TEMPLATES / "index.html").read_text(encoding="utf-8").replace("$v", version)
    loader = (TEMPLATES / "embed.js").read_text(encoding="utf-8").replace("__VERSION__", version)

    @app.get("/", include_in_schema=False)
    def chat_page(request: Request) -> Response:
        config = chat_config(service)
        words = locale(config["language"])
        body = (
            page.replace("$title", html.escape(config["title"]))
            .replace("$lang", words["lang"])
            .replace("$skip", html.escape(words["skip"], quote=False))
            .replace("$noscript", html.escape(words["noscript"], quote=False))
            .replace("$config", html.escape(json.dumps(config, ensure_ascii=False)))
        )
        return cached(request, body, "text/html; charset=utf-8", CHECK_FIRST)

    @app.get("/embed.js", include_in_schema=False)
    def embed_js(request: Request) -> Response:
        script = loader.replace("__ASSISTANT_CONFIG__", script_json(chat_config(service)))
        return cached(request, script, "text/javascript; charset=utf-8", LOADER)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        """Browsers ask for it on every page that names no icon (the console's too): the app's icon."""
        return FileResponse(
            STATIC / "icon.svg", media_type="image/svg+xml", headers={"cache-control": "public, max-age=86400"}
        )

    # The Gradio chat used to live at /chat/: old links and bookmarks land on the new page.
    @app.get("/chat", include_in_schema=False)
    @app.get("/chat/{rest:path}", include_in_schema=False)
    def old_chat(rest: str = "") -> RedirectResponse:
        return RedirectResponse("/", status_code=301)

    def checked(body: ask_request):  # type: ignore[valid-type]
        # A dependency runs before the stream starts, so a refusal is still a plain JSON error.
        if check_body is not None:
            check_body(body)
        return body

    @app.post("/api/ask/stream", response_class=EventSourceResponse)
    async def api_ask_stream(body=Depends(checked)):  # noqa: B008 (FastAPI's way)
        """`text` events carry the answer's text in pieces as it is sent; the last event, `answer`,
        carries exactly what `/api/ask` returns. Answering runs in a worker thread, so the event
        loop is never held (`Service.ask_stream`)."""
        history = [Turn(t.role, t.content) for t in body.history]
        # With a language model on, each checked sentence arrives as it passes; quoted answers
        # arrive whole. Either way the screen gets a few words per event.
        async for item in iterate_in_threadpool(service.ask_stream(body.question, history)):
            if isinstance(item, Answer):
                if recorder is not None:
                    recorder.answered(body.question, item, body.conversation)
                yield ServerSentEvent(event="answer", data=item.to_json())
            else:
                for piece in pieces(item):
                    yield ServerSentEvent(event="text", data=piece)


def chat_config(service: Service) -> dict:
    """What the front-end needs from the deployer's profile and the settings."""
    profile = service.profile
    return {
        "title": profile.title,
        "name": profile.name,
        "scope": profile.scope,
        "starters": list(profile.starter_questions),
        "example": profile.example_question,
        "contacts": [
            {"name": c.name, "for": c.topic, "email": c.email, "phone": c.phone, "url": c.url} for c in profile.contacts
        ],
        "maxChars": service.settings.max_question_chars,
        "reasons": REASONS,
        "language": profile.language,
    }


def locale(language: str) -> dict:
    """The strings of one of the shipped locales (English when it is not one of them)."""
    path = LOCALES / f"{language}.json"
    if not path.is_file():
        path = LOCALES / "en-GB.json"
    return json.loads(path.read_text(encoding="utf-8"))


def script_json(value) -> str:
    """JSON that is safe inside a script: no `</script>`, no HTML comment openers."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def pieces(text: str, words: int = WORDS_PER_EVENT) -> list[str]:
    """The text in pieces of a few words; joined, they give the text back exactly."""
    tokens = re.findall(r"\s*\S+", text)
    out = ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]
    tail = text[len("".join(out)) :]  # trailing white space, if any
    if tail:
        out = out[:-1] + [out[-1] + tail] if out else [tail]
    return out
