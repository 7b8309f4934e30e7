"""Gradio is loaded after the public app has started, in the background (its import takes seconds
of CPU on a small server), then mounted at /admin/; until then a logged-in visitor sees a
"starting" page. The public app never imports Gradio when the console is off."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse

log = logging.getLogger(__name__)
# Gradio keeps the Blocks being built in a global: two built at once (two apps in one process, as in
# the tests) would tangle. One at a time.
_BUILDING = threading.Lock()
TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"


def mount_later(app: FastAPI, auth, corpus, reports, sources) -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls to outside hosts
    state = {"loaded": False}
    app.state.console_loaded = state
    starting = (TEMPLATES / "admin_starting.html").read_text(encoding="utf-8")

    @app.get("/admin", include_in_schema=False)
    @app.get("/admin/", include_in_schema=False)
    def console_starting():
        if state["loaded"]:  # only reached for /admin (no slash) once Gradio is mounted
            return RedirectResponse("/admin/", status_code=307)
        return HTMLResponse(starting, headers={"Cache-Control": "no-store"})

    placeholders = [r for r in app.router.routes if getattr(r, "path", "") in ("/admin", "/admin/")]
    gradio_context = contextlib.AsyncExitStack()

    async def load() -> None:
        try:
            loop = asyncio.get_running_loop()
            from assistant.console.ui import CSS, build_console, theme

            def build():
                with _BUILDING:
                    return build_console(auth, corpus, reports, sources)

            blocks = await loop.run_in_executor(None, build)
            import gradio as gr

            gr.mount_gradio_app(
                app,
                blocks,
                path="/admin",
                footer_links=[],
                max_file_size=corpus.max_bytes,  # Gradio's upload route refuses larger files
                show_error=True,
                theme=theme(),
                css=CSS,
                pwa=False,
                mcp_server=False,
                enable_monitoring=False,
            )
            for route in placeholders:
                if getattr(route, "path", "") == "/admin/":
                    app.router.routes.remove(route)
            gradio_app = next(r.app for r in reversed(app.router.routes) if getattr(r, "path", "") == "/admin")
            await gradio_context.enter_async_context(gradio_app.router.lifespan_context(gradio_app))
            gradio_app.get_blocks().run_startup_events()
            await gradio_app.get_blocks().run_extra_startup_events()
            state["loaded"] = True
            log.info("The staff console is ready at /admin/")
        except Exception:
            log.exception("The staff console could not be loaded; the public chat is not affected")

    previous = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(lifespan_app: FastAPI):
        async with previous(lifespan_app) as value:
            task = asyncio.create_task(load())
            try:
                yield value
            finally:
                task.cancel()
                await gradio_context.aclose()

    app.router.lifespan_context = lifespan
