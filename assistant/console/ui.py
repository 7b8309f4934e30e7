"""The console's pages, built with Gradio: Documents, Web sources, Questions not answered, Feedback,
Assistant and glossary, Audit log. Every handler goes through `Corpus` and `Reports`, as the JSON API does,
and checks the session again (the gate in `auth.py` already has). Charts are plain SVG drawn here
(`charts.py`), each with its figures in words and in a table beside it.

No `from __future__ import annotations` here: Gradio finds the `gr.Request` argument of a handler
by its annotation, which must be the class itself."""

from pathlib import Path

from assistant.console import charts, uploads
from assistant.console.auth import Auth
from assistant.console.corpus import KINDS, ChangeRefused, Corpus
from assistant.console.reports import Reports
from assistant.console.sources import Sources
from assistant.corpus.documents import SUPPORTED
from assistant.sources.sync import WEB_FOLDER

DAY_CHOICES = [7, 30, 90, 365]
TOP_TOPICS = 10
CSS = """
.gradio-container { max-width: 1200px !important; }
.console-chart { margin: 0; }
.console-chart figcaption { margin-bottom: .5rem; }
a { color: #1d70b8; }
/* On a phone: every tab shown, over two or three lines, instead of most of them hidden behind a
   "..." menu. Gradio decides what overflows by measuring a hidden copy of the tab bar; in that copy
   the labels are made tiny so that all fit, and the real bar wraps. */
@media (max-width: 640px) {
  .tab-wrapper { height: auto !important; padding-bottom: .25rem; }
  .tab-container[role=tablist] { flex-wrap: wrap !important; height: auto !important; overflow: visible !important; }
  .tab-container.visually-hidden button { font-size: 1px !important; padding: 0 !important; min-width: 0 !important; }
  .tab-container[role=tablist] button { min-height: 44px; }
  .overflow-menu { display: none !important; }
  #console-title h1 { font-size: 1.5rem; }
}
"""


def theme():
    """Gradio's default look with colours that pass WCAG AA contrast (its orange does not)."""
    import gradio as gr

    return gr.themes.Default(primary_hue=gr.themes.colors.green, font=["system-ui", "sans-serif"]).set(
        button_primary_background_fill="#00703c",
        button_primary_background_fill_hover="#005a30",
        button_primary_text_color="#ffffff",
        button_cancel_background_fill="#b10e1e",
        button_cancel_background_fill_hover="#8e0b18",
        button_cancel_text_color="#ffffff",
        button_secondary_text_color="#0b0c0c",
        body_text_color_subdued="#505a5f",
        color_accent="#005a30",
        color_accent_soft="#e6f2ec",
        link_text_color="#1d70b8",
    )


REFRESH_CHOICES = [("every day (default)", ""), ("every 6 hours", "6h"), ("every hour", "1h"), ("every week", "7d")]


def build_console(auth: Auth, corpus: Corpus, reports: Reports, sources: Sources):
    import gradio as gr
    import pandas as pd

    upload_dir = uploads.upload_folder(corpus.settings.data_dir)

    def who(request: gr.Request) -> str:
        if request is None or auth.session_of(dict(request.cookies)) is None:
            raise gr.Error("Your session has expired. Reload the page and log in again.")
        scope = getattr(getattr(request, "request", None), "scope", None)
        client = auth.client_address(scope) if scope else (request.client.host if request.client else "unknown")
        return f"console {client}"

    # ---- documents
    def documents_table() -> pd.DataFrame:
        rows = reports.documents(corpus.status())
        return pd.DataFrame(
            [[r["title"], r["file"], r["date"], r["passages"], r["last_ingested"], r["warnings"]] for r in rows],
            columns=["Title", "File", "Date", "Passages", "Last indexed", "Warnings"],
        )

    def job_text() -> tuple[str, bool]:
        job = corpus.latest_job()
        if job is None:
            return "No change has been made from the console yet.", False
        if job.state == "running":
            progress = f" {job.done} of {job.total} passages embedded." if job.total else ""
            return f"**Indexing** {job.name} ({job.action}).{progress}", True
        label = "Done" if job.state == "done" else "Failed"
        return f"**{label}**: {job.name} ({job.action}). {job.message}", False

    def removable() -> list[str]:
        """Documents an editor added; a web source's pages go with their source (Web sources tab)."""
        return [r["file"] for r in reports.documents(corpus.status()) if not r["file"].startswith(WEB_FOLDER + "/")]

    def refresh_documents():
        text, running = job_text()
        names = removable()
        return documents_table(), text, gr.Timer(active=running), gr.Dropdown(choices=names, value=None)

    def refresh_list():
        names = removable()
        return documents_table(), gr.Dropdown(choices=names, value=None)

    def tick():
        text, running = job_text()
        if running:
            return gr.skip(), text, gr.Timer(active=True), gr.skip()
        return (*refresh_list()[:1], text, gr.Timer(active=False), refresh_list()[1])

    def upload(path, request: gr.Request):
        try:
            actor = who(request)
            if not path:
                return gr.skip(), "Choose a file first.", gr.Timer(active=False)
            file = Path(path)
            data = file.read_bytes()
        finally:
            if path:
                uploads.discard(path, upload_dir)  # Gradio's copy of the upload is never kept
        try:
            job = corpus.upload(file.name, data, actor, request.headers.get("host"))
        except ChangeRefused as err:
            return gr.skip(), f"**Not added**: {err} Nothing was changed.", gr.Timer(active=False)
        verb = "Replacing" if job.action == "replace" else "Adding"
        return documents_table(), f"**{verb}** {job.name}: indexing...", gr.Timer(active=True)

    def confirm_removal(name):
        """The first click only asks: the document is named, and nothing is removed yet."""
        if not name:
            return gr.Group(visible=False), "", gr.skip(), "Choose a document to remove first."
        passages = next((r["passages"] for r in reports.documents(corpus.status()) if r["file"] == name), 0)
        text = (
            f"**Remove {name}?** Its {passages} passage{'' if passages == 1 else 's'} leave the guidance at once, "
            "and the assistant stops answering from it."
        )
        return gr.Group(visible=True), text, gr.Button(value=f"Yes, remove {name}"), gr.skip()

    def remove(name, request: gr.Request):
        actor = who(request)
        if not name:
            return gr.skip(), "Choose a document to remove first.", gr.Timer(active=False)
        try:
            job = corpus.remove(name, actor)
        except ChangeRefused as err:
            return gr.skip(), f"**Not removed**: {err}", gr.Timer(active=False)
        return documents_table(), f"**Removing** {job.name}: indexing...", gr.Timer(active=True)

    # ---- web sources
    def sources_tables():
        view = sources.view()
        table = pd.DataFrame(
            [
                [
                    s["url"],
                    ", ".join(s["include"]) or "everything on the site",
                    s["refresh"],
                    s["last_synced"],
                    s["pages"],
                    s["failing"],
                ]
                for s in view["sources"]
            ],
            columns=[
                "Source (a page or a sitemap)",
                "Only pages starting with",
                "Synced",
                "Last synced",
                "Pages kept",
                "Pages failing",
            ],
        )
        pages = pd.DataFrame(
            [
                [p["url"], p["title"], p["status"] or "", p["last_fetched"], p["last_changed"], p["error"]]
                for p in view["pages"]
            ],
            columns=["Page", "Title", "Status", "Last fetched", "Last changed", "Problem"],
        )
        return (
            table,
            pages,
            gr.Dropdown(choices=[s["url"] for s in view["sources"]], value=None),
            gr.Dropdown(choices=[p["url"] for p in view["pages"] if p["file"]], value=None),
        )

    def add_source(url, include, refresh, request: gr.Request):
        actor = who(request)
        try:
            sources.add(url or "", include or "", refresh or "", actor)
        except ChangeRefused as err:
            return (f"**Not added**: {err} Nothing was changed.", gr.skip(), gr.Timer(active=False))
        return (f"**Added** {url.strip()}. Choose **Sync now** to read its pages.", "", gr.Timer(active=True))

    def remove_source(url, request: gr.Request):
        actor = who(request)
        if not url:
            return "Choose a source to remove first.", gr.Timer(active=False)
        try:
            sources.remove(url, actor)
        except ChangeRefused as err:
            return f"**Not removed**: {err}", gr.Timer(active=False)
        return f"**Removed** {url}. Its pages leave the guidance at the next sync (choose **Sync now**).", gr.Timer(
            active=True
        )

    def sync_now(request: gr.Request):
        actor = who(request)
        try:
            report = sources.sync_now(actor)
        except Exception as err:  # the index or the shared lock: say so, never a traceback
            return f"**Not synced**: {err}"
        if report is None:
            return "A sync is already running; its results will show here when it has finished."
        lines = report.lines()
        return "**Synced.** " + lines[0] + "".join(f"\n- {line}" for line in lines[1:12])

    # ---- gaps
    def gaps_view(days):
        days = int(days or 30)
        found = reports.topics(days)
        table = pd.DataFrame(
            [[t.label, t.conversations, t.count, t.declined, t.thumbs_down, " | ".join(t.questions[1:])] for t in found],
            columns=[
                "Topic (its most typical question)",
                "Conversations",
                "Questions",
                "Declined",
                "Thumbs down",
                "Other questions",
            ],
        )
        weekly = reports.weekly(12)
        week_chart = charts.grouped_bars(
            "Answered, declined and thumbs down per week (weeks start on Monday)",
            weekly,
            "week",
            [("answered", "answered"), ("declined", "declined"), ("thumbs_down", "thumbs down")],
            "weekly-chart",
        )
        top_chart = charts.horizontal_bars(
            f"Top topics the guidance did not answer, by conversations that asked, last {days} days",
            [(_short(t.label), t.conversations) for t in found[:TOP_TOPICS]],
            "topics-chart",
        )
        link = (
            f'<p><a href="/admin/export/unanswered.csv?days={days}" download>'
            f"Download these questions as a spreadsheet (CSV, {days} days)</a></p>"
        )
        total = sum(t.count for t in found)
        if reports.recorder.keep_questions:
            summary = (
                f"{total} question{'' if total == 1 else 's'} kept in the last {days} days, "
                f"in {len(found)} topic{'' if len(found) == 1 else 's'}. Topics are ranked by how many "
                "different conversations asked (one person asking again and again counts once)."
            )
        else:
            summary = "Questions are not being kept (ASSISTANT_KEEP_QUESTIONS=false)."
        return summary, week_chart, top_chart, table, link

    # ---- feedback
    def feedback_view(days):
        days = int(days or 30)
        report = reports.feedback_report(days)
        chart = charts.grouped_bars(
            "Thumbs up and thumbs down per week",
            report["weekly"],
            "week",
            [("thumbs_up", "thumbs up"), ("thumbs_down", "thumbs down")],
            "thumbs-chart",
        )
        shares = " · ".join(
            f"{w['week']}: {round(100 * w['helpful_share'])} % helpful"
            for w in report["weekly"]
            if w["helpful_share"] is not None
        )
        summary = f"In the last {days} days: {report['thumbs_up']} thumbs up, {report['thumbs_down']} thumbs down." + (
            f"\n\nHelpful share by week: {shares}" if shares else ""
        )
        reasons = pd.DataFrame(
            [[r["label"], r["count"]] for r in report["reasons"]], columns=["Reason given after a thumbs down", "Times"]
        )
        unhelpful = pd.DataFrame(
            [[a["answer"], "; ".join(a["sources"]), a["thumbs_down"]] for a in report["unhelpful_answers"]],
            columns=["Answer", "Sources", "Thumbs down"],
        )
        return summary, chart, reasons, unhelpful

    # ---- deployer files
    def save(which: str):
        def handler(text, request: gr.Request):
            actor = who(request)
            try:
                corpus.save_file(which, text or "", actor)
            except ChangeRefused as err:
                return f"**Not saved**: {err} Nothing was changed.", gr.Timer(active=False)
            return f"**Saved** {which}: the assistant is reloading it...", gr.Timer(active=True)

        return handler

    def audit_view():
        rows = reports.audit_entries(200)
        return pd.DataFrame(
            [[r["when"], r["who"], r["action"], r["detail"]] for r in rows], columns=["When", "Who", "What", "Detail"]
        )

    with gr.Blocks(title="Staff console", analytics_enabled=False, delete_cache=(3600, 3600)) as console:
        with gr.Row():
            gr.Markdown("# Staff console", elem_id="console-title")
            gr.HTML('<p><a href="/admin/logout">Log out</a></p>')
        timer = gr.Timer(1.0, active=False)
        with gr.Tab("Documents"):
            job_status = gr.Markdown(elem_id="job-status")
            # Fixed column widths: on a phone the table scrolls sideways instead of wrapping each
            # header a letter a line.
            documents = gr.Dataframe(
                label="Documents in the guidance",
                interactive=False,
                wrap=True,
                column_widths=["200px", "200px", "110px", "90px", "130px", "220px"],
            )
            with gr.Row():
                with gr.Column():
                    gr.Markdown(f"Add a document ({KINDS}). A file with the name of one above replaces it.")
                    add = gr.UploadButton(
                        "Choose a document to add", file_types=list(SUPPORTED), type="filepath", variant="primary",
                        elem_id="upload-button",
                    )  # fmt: skip
                with gr.Column():
                    choose = gr.Dropdown(label="Document to remove", choices=[], elem_id="remove-choice")
                    drop = gr.Button("Remove...", variant="stop", elem_id="remove-button")
                    with gr.Group(visible=False, elem_id="remove-confirm") as confirm_box:
                        confirm_text = gr.Markdown(elem_id="remove-confirm-text")
                        with gr.Row():
                            confirm = gr.Button("Yes, remove it", variant="stop", elem_id="remove-confirm-button")
                            cancel = gr.Button("Cancel", elem_id="remove-cancel")
        with gr.Tab("Web sources"):
            gr.Markdown(
                "Pages of a website the assistant reads itself. A source is one page or a sitemap; the "
                "assistant fetches its pages, keeps their own words and cites the live page. Sources are "
                "synced by themselves (each at its interval); **Sync now** does it at once."
            )
            sync_status = gr.Markdown(elem_id="sync-status")
            source_table = gr.Dataframe(label="Sources", interactive=False, wrap=True, elem_id="sources-table")
            with gr.Row():
                with gr.Column():
                    new_url = gr.Textbox(label="Web address of a page or a sitemap", elem_id="source-url")
                    new_include = gr.Textbox(
                        label="Only pages whose address starts with (optional; several separated by commas)",
                        elem_id="source-include",
                    )
                    new_refresh = gr.Dropdown(REFRESH_CHOICES, value="", label="Sync it", elem_id="source-refresh")
                    add_button = gr.Button("Add source", variant="primary", elem_id="add-source")
                with gr.Column():
                    source_choice = gr.Dropdown(label="Source to remove", choices=[], elem_id="source-choice")
                    remove_button = gr.Button("Remove source", variant="stop", elem_id="remove-source")
                    sync_button = gr.Button("Sync now", elem_id="sync-now")
            page_table = gr.Dataframe(label="Pages", interactive=False, wrap=True, elem_id="pages-table")
            page_choice = gr.Dropdown(label="Show the text kept for a page", choices=[], elem_id="page-choice")
            page_text = gr.Textbox(
                label="Text kept (what the assistant quotes)", lines=12, interactive=False, elem_id="page-text"
            )
        with gr.Tab("Questions not answered"):
            gr.Markdown(
                "Questions the assistant declined, and questions whose answer got a thumbs down, grouped by "
                "meaning. Personal details were removed before they were stored."
            )
            gap_days = gr.Dropdown(DAY_CHOICES, value=30, label="Days to look back", elem_id="gap-days")
            gap_summary = gr.Markdown()
            weekly_chart = gr.HTML()
            topics_chart = gr.HTML()
            topics = gr.Dataframe(label="Topics", interactive=False, wrap=True, elem_id="topics-table")
            csv = gr.HTML(elem_id="csv-link")
        with gr.Tab("Feedback"):
            fb_days = gr.Dropdown(DAY_CHOICES, value=30, label="Days to look back", elem_id="feedback-days")
            fb_summary = gr.Markdown()
            rate_chart = gr.HTML()
            reasons = gr.Dataframe(label="Reasons after a thumbs down", interactive=False)
            unhelpful = gr.Dataframe(label="Answers most often marked unhelpful", interactive=False, wrap=True)
        with gr.Tab("Assistant and glossary"):
            gr.Markdown(
                "The assistant's name, what it helps with, its starter questions and whom to contact "
                "(`assistant.yaml`), and the jargon glossary (`glossary.yaml`). Each is checked before it is saved."
            )
            files_status = gr.Markdown()
            # Plain text boxes: the code editor's colouring fails contrast checks.
            profile = gr.Textbox(label="assistant.yaml", lines=18, max_lines=40, elem_id="profile-text")
            save_profile = gr.Button("Check and save assistant.yaml")
            glossary = gr.Textbox(label="glossary.yaml", lines=18, max_lines=40, elem_id="glossary-text")
            save_glossary = gr.Button("Check and save glossary.yaml")
        with gr.Tab("Audit log"):
            gr.Markdown("Who did what in the console, and when (never the text of a question).")
            audit = gr.Dataframe(interactive=False, wrap=True)
            refresh_audit = gr.Button("Refresh")

        doc_outputs = [documents, job_status, timer, choose]
        gap_outputs = [gap_summary, weekly_chart, topics_chart, topics, csv]
        fb_outputs = [fb_summary, rate_chart, reasons, unhelpful]
        console.load(refresh_documents, None, doc_outputs)
        source_outputs = [source_table, page_table, source_choice, page_choice]
        console.load(sources_tables, None, source_outputs)
        add_button.click(add_source, [new_url, new_include, new_refresh], [sync_status, new_url, timer]).then(
            sources_tables, None, source_outputs
        )
        remove_button.click(remove_source, source_choice, [sync_status, timer]).then(
            sources_tables, None, source_outputs
        )
        sync_button.click(sync_now, None, sync_status).then(sources_tables, None, source_outputs).then(
            refresh_list, None, [documents, choose]
        )
        page_choice.change(lambda url: sources.preview(url) if url else "", page_choice, page_text)
        console.load(gaps_view, gap_days, gap_outputs)
        console.load(feedback_view, fb_days, fb_outputs)
        console.load(
            lambda: (corpus.read_file("assistant.yaml"), corpus.read_file("glossary.yaml")), None, [profile, glossary]
        )
        console.load(audit_view, None, audit)
        timer.tick(tick, None, [documents, job_status, timer, choose])
        # The message a change gives stays; the timer then follows its ingest to the end.
        add.upload(upload, add, [documents, job_status, timer]).then(refresh_list, None, [documents, choose])
        drop.click(confirm_removal, choose, [confirm_box, confirm_text, confirm, job_status])
        choose.change(lambda _name: gr.Group(visible=False), choose, confirm_box)
        cancel.click(lambda: (gr.Group(visible=False), "Nothing was removed."), None, [confirm_box, job_status])
        confirm.click(remove, choose, [documents, job_status, timer]).then(
            lambda: gr.Group(visible=False), None, confirm_box
        ).then(refresh_list, None, [documents, choose])
        gap_days.change(gaps_view, gap_days, gap_outputs)
        fb_days.change(feedback_view, fb_days, fb_outputs)
        save_profile.click(save("assistant.yaml"), profile, [files_status, timer])
        save_glossary.click(save("glossary.yaml"), glossary, [files_status, timer])
        refresh_audit.click(audit_view, None, audit)
    return console


def _short(text: str, words: int = 10) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")
