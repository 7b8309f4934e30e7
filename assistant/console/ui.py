"""The console's pages, built with Gradio: Documents, Questions not answered, Feedback, Assistant
and glossary, Audit log. Every handler goes through `Corpus` and `Reports`, as the JSON API does,
and checks the session again (the gate in `auth.py` already has)."""


import os
from pathlib import Path

from assistant.console.auth import Auth
from assistant.console.corpus import KINDS, ChangeRefused, Corpus
from assistant.console.reports import Reports
from assistant.documents import SUPPORTED

DAY_CHOICES = [7, 30, 90, 365]
TOP_TOPICS = 10
CSS = """
.gradio-container { max-width: 1200px !important; }
#console-title h1 { margin-bottom: 0; }
"""


def build_console(auth: Auth, corpus: Corpus, reports: Reports):
    import gradio as gr
    import pandas as pd

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

    def refresh_documents():
        text, running = job_text()
        names = [r["file"] for r in reports.documents(corpus.status())]
        return documents_table(), text, gr.Timer(active=running), gr.Dropdown(choices=names, value=None)

    def tick():
        text, running = job_text()
        if running:
            return gr.skip(), text, gr.Timer(active=True)
        return documents_table(), text, gr.Timer(active=False)

    def upload(path, request: gr.Request):
        actor = who(request)
        if not path:
            return gr.skip(), "Choose a file first.", gr.Timer(active=False)
        file = Path(path)
        try:
            data = file.read_bytes()
            job = corpus.upload(file.name, data, actor)
        except ChangeRefused as err:
            return gr.skip(), f"**Not added**: {err} Nothing was changed.", gr.Timer(active=False)
        finally:
            try:
                os.unlink(file)  # Gradio's copy of the upload is not kept
            except OSError:
                pass
        verb = "Replacing" if job.action == "replace" else "Adding"
        return documents_table(), f"**{verb}** {job.name}: indexing...", gr.Timer(active=True)

    def remove(name, request: gr.Request):
        actor = who(request)
        if not name:
            return gr.skip(), "Choose a document to remove first.", gr.Timer(active=False)
        try:
            job = corpus.remove(name, actor)
        except ChangeRefused as err:
            return gr.skip(), f"**Not removed**: {err}", gr.Timer(active=False)
        return documents_table(), f"**Removing** {job.name}: indexing...", gr.Timer(active=True)

    # ---- gaps
    def gaps_view(days):
        days = int(days or 30)
        found = reports.topics(days)
        table = pd.DataFrame(
            [[t.label, t.count, t.declined, t.thumbs_down, " | ".join(t.questions[1:])] for t in found],
            columns=["Topic (its most typical question)", "Questions", "Declined", "Thumbs down", "Other questions"],
        )
        top = pd.DataFrame(
            [{"topic": _short(t.label), "questions": t.count} for t in found[:TOP_TOPICS]],
            columns=["topic", "questions"],
        )
        weekly = reports.weekly(12)
        chart = pd.DataFrame(
            [
                {"week": w["week"], "outcome": label, "count": w[key]}
                for w in weekly
                for key, label in (("answered", "answered"), ("declined", "declined"), ("thumbs_down", "thumbs down"))
            ]
        )
        link = f'<p><a href="/admin/export/unanswered.csv?days={days}" download>Download these questions as CSV ({days} days)</a></p>'
        total = sum(t.count for t in found)
        if reports.recorder.keep_questions:
            summary = f"{total} questions kept in the last {days} days, in {len(found)} topics."
        else:
            summary = "Questions are not being kept (ASSISTANT_KEEP_QUESTIONS=false)."
        return summary, chart, top, table, link

    # ---- feedback
    def feedback_view(days):
        days = int(days or 30)
        report = reports.feedback_report(days)
        rate = pd.DataFrame(
            [
                {"week": w["week"], "verdict": label, "count": w[key]}
                for w in report["weekly"]
                for key, label in (("thumbs_up", "thumbs up"), ("thumbs_down", "thumbs down"))
            ]
        )
        shares = " · ".join(
            f"{w['week']}: {round(100 * w['helpful_share'])} % helpful" for w in report["weekly"] if w["helpful_share"] is not None
        )
        summary = (
            f"In the last {days} days: {report['thumbs_up']} thumbs up, {report['thumbs_down']} thumbs down."
            + (f"\n\nHelpful share by week: {shares}" if shares else "")
        )
        reasons = pd.DataFrame(
            [[r["label"], r["count"]] for r in report["reasons"]], columns=["Reason given after a thumbs down", "Times"]
        )
        unhelpful = pd.DataFrame(
            [[a["answer"], "; ".join(a["sources"]), a["thumbs_down"]] for a in report["unhelpful_answers"]],
            columns=["Answer", "Sources", "Thumbs down"],
        )
        return summary, rate, reasons, unhelpful

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
            documents = gr.Dataframe(label="Documents in the guidance", interactive=False, wrap=True)
            with gr.Row():
                with gr.Column():
                    file = gr.File(
                        label=f"Add or replace a document: {KINDS}. A file with the same name as one above replaces it.",
                        file_types=list(SUPPORTED),
                        type="filepath",
                        elem_id="upload-file",
                    )
                    add = gr.Button("Add and index", variant="primary", elem_id="upload-button")
                with gr.Column():
                    choose = gr.Dropdown(label="Document to remove", choices=[], elem_id="remove-choice")
                    drop = gr.Button("Remove and re-index", variant="stop", elem_id="remove-button")
        with gr.Tab("Questions not answered"):
            gr.Markdown(
                "Questions the assistant declined, and questions whose answer got a thumbs down, grouped by "
                "meaning. Personal details were removed before they were stored."
            )
            gap_days = gr.Dropdown(DAY_CHOICES, value=30, label="Days to look back", elem_id="gap-days")
            gap_summary = gr.Markdown()
            weekly_chart = gr.BarPlot(
                x="week", y="count", color="outcome", label="Answered, declined and thumbs down per week",
                x_title="Week starting", y_title="Questions", elem_id="weekly-chart",
            )  # fmt: skip
            topics_chart = gr.BarPlot(
                x="topic", y="questions", label="Top topics the guidance does not answer", sort="-y",
                x_title="Topic", y_title="Questions", elem_id="topics-chart",
            )  # fmt: skip
            topics = gr.Dataframe(label="Topics", interactive=False, wrap=True, elem_id="topics-table")
            csv = gr.HTML(elem_id="csv-link")
        with gr.Tab("Feedback"):
            fb_days = gr.Dropdown(DAY_CHOICES, value=30, label="Days to look back")
            fb_summary = gr.Markdown()
            rate_chart = gr.BarPlot(
                x="week", y="count", color="verdict", label="Thumbs up and down per week",
                x_title="Week starting", y_title="Answers", elem_id="thumbs-chart",
            )  # fmt: skip
            reasons = gr.Dataframe(label="Reasons after a thumbs down", interactive=False)
            unhelpful = gr.Dataframe(label="Answers most often marked unhelpful", interactive=False, wrap=True)
        with gr.Tab("Assistant and glossary"):
            gr.Markdown(
                "The assistant's name, what it helps with, its starter questions and whom to contact "
                "(`assistant.yaml`), and the jargon glossary (`glossary.yaml`). Each is checked before it is saved."
            )
            files_status = gr.Markdown()
            profile = gr.Code(language="yaml", label="assistant.yaml", lines=18, interactive=True)
            save_profile = gr.Button("Check and save assistant.yaml")
            glossary = gr.Code(language="yaml", label="glossary.yaml", lines=18, interactive=True)
            save_glossary = gr.Button("Check and save glossary.yaml")
        with gr.Tab("Audit log"):
            gr.Markdown("Who did what in the console, and when (never the text of a question).")
            audit = gr.Dataframe(interactive=False, wrap=True)
            refresh_audit = gr.Button("Refresh")

        doc_outputs = [documents, job_status, timer, choose]
        console.load(refresh_documents, None, doc_outputs)
        console.load(gaps_view, gap_days, [gap_summary, weekly_chart, topics_chart, topics, csv])
        console.load(feedback_view, fb_days, [fb_summary, rate_chart, reasons, unhelpful])
        console.load(lambda: (corpus.read_file("assistant.yaml"), corpus.read_file("glossary.yaml")), None, [profile, glossary])
        console.load(audit_view, None, audit)
        timer.tick(tick, None, [documents, job_status, timer])
        add.click(upload, file, [documents, job_status, timer]).then(refresh_documents, None, doc_outputs)
        drop.click(remove, choose, [documents, job_status, timer]).then(refresh_documents, None, doc_outputs)
        gap_days.change(gaps_view, gap_days, [gap_summary, weekly_chart, topics_chart, topics, csv])
        fb_days.change(feedback_view, fb_days, [fb_summary, rate_chart, reasons, unhelpful])
        save_profile.click(save("assistant.yaml"), profile, [files_status, timer])
        save_glossary.click(save("glossary.yaml"), glossary, [files_status, timer])
        refresh_audit.click(audit_view, None, audit)
    return console


def _short(text: str, words: int = 8) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")
