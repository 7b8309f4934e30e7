"""The staff console in a real browser: Debian's headless Chromium driven by Playwright against
`assistant serve` (console on) on a free 127.0.0.1 port. Log in, add a document and have the public
API answer from it within 10 seconds, remove it, see a declined question (with an e-mail address in
it) appear redacted among the gaps, the charts drawn, and axe-core finding nothing serious or
critical on any console page. Screenshots go to test-artifacts/."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_browser import ARTEFACTS, AXE, CHROMIUM, free_port, run_axe, wait_for

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is installed by `make test`")
PASSWORD = "console passphrase for the browser test"
EXPENSES = (
    "---\ntitle: Volunteer expenses policy\nurl: https://example.org/expenses\n---\n# Volunteer expenses\n\n"
    "## Mileage\n\nVolunteers who drive to the prison visitor centre can claim mileage at 45p per mile. "
    "Claims must be made within 30 days of the journey using the expenses form.\n"
)
MILEAGE = "What mileage rate can volunteers claim for driving to the visitor centre?"
DECLINED = "my email is jo.bloggs@example.org - what songs should our prison choir sing?"


def wait_text(page, text: str, within: str = "body", timeout: float = 20000) -> None:
    """Wait until the text is shown (Gradio's tables keep hidden copies of their cells)."""
    page.wait_for_function(
        "([sel, text]) => (document.querySelector(sel) || {innerText: ''}).innerText.includes(text)",
        arg=[within, text],
        timeout=timeout,
    )


def settled(page) -> None:
    """Wait until Gradio has no update in flight (a pending component is drawn faded, which axe
    would rightly measure as low contrast)."""
    page.wait_for_function("() => document.querySelectorAll('.pending, .generating').length === 0", timeout=20000)
    page.wait_for_timeout(400)


def ask(url: str, question: str) -> dict:
    body = json.dumps({"question": question}).encode()
    request = urllib.request.Request(url + "/api/ask", body, {"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request, timeout=20).read())


@pytest.fixture(scope="module")
def console_server(service, tmp_path_factory):
    folder = tmp_path_factory.mktemp("console-web")
    corpus = folder / "corpus"
    corpus.mkdir()
    for name in ("probation-services.md", "glossary.yaml", "assistant.yaml"):
        shutil.copy(ROOT / "corpus" / name, corpus)
    shutil.copytree(service.settings.index_dir, folder / "data" / "index")  # nothing to embed at start
    port = free_port()
    env = {
        **os.environ,
        "ASSISTANT_DATA_DIR": str(folder / "data"),
        "ASSISTANT_CORPUS_DIR": str(corpus),
        "ASSISTANT_EMBEDDER": "auto",
        "ASSISTANT_ADMIN_PASSWORD": PASSWORD,
    }
    log = open(folder / "serve.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(url + "/healthz", b'"ok":true'), (folder / "serve.log").read_text()[-2000:]
        yield url, corpus
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert "Traceback" not in (folder / "serve.log").read_text()


@pytest.fixture(scope="module")
def console_page(console_server, browser):
    url, _ = console_server
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors, page.requests = [], []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and "404" not in m.text and page.errors.append(m.text))
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("response", lambda r: r.status >= 400 and page.errors.append(f"{r.status} {r.url}"))
    yield page
    context.close()


def test_log_in_with_a_wrong_then_the_right_password(console_server, console_page):
    url, _ = console_server
    page = console_page
    page.goto(url + "/admin/", wait_until="load")
    assert page.url.endswith("/admin/login")
    assert run_axe(page) == []
    page.get_by_label("Password").fill("a guess")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("load")
    assert page.get_by_role("alert").inner_text() == "That password is not right."
    page.screenshot(path=str(ARTEFACTS / "console-login-wrong.png"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    wait_text(page, "Documents in the guidance", timeout=60000)
    assert page.url.endswith("/admin/")
    wait_text(page, "probation-services.md")
    settled(page)
    assert run_axe(page) == []
    page.screenshot(path=str(ARTEFACTS / "console-documents.png"), full_page=True)
    page.errors.clear()  # the wrong password's 401 was meant


def test_an_uploaded_document_is_answered_within_ten_seconds_then_removed(console_server, console_page, tmp_path):
    url, corpus = console_server
    page = console_page
    assert "45p" not in ask(url, MILEAGE)["answer"]
    document = tmp_path / "expenses.md"
    document.write_text(EXPENSES, encoding="utf-8")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Choose a document to add").click()
    started = time.time()
    chooser.value.set_files(str(document))
    answered = None
    while time.time() - started < 10:
        reply = ask(url, MILEAGE)
        if "45p per mile" in reply["answer"]:
            answered = time.time() - started
            break
        time.sleep(0.25)
    assert answered is not None, "the new document was not answered from within 10 s"
    status = page.locator("#job-status")
    status.get_by_text("Done").wait_for(timeout=20000)
    assert "expenses.md (upload)" in status.inner_text()
    wait_text(page, "Volunteer expenses policy")
    page.screenshot(path=str(ARTEFACTS / "console-uploaded.png"), full_page=True)
    (ARTEFACTS / "console-upload-timing.json").write_text(json.dumps({"answered_after_s": round(answered, 2)}))

    page.get_by_label("Document to remove").click()
    page.get_by_role("option", name="expenses.md").click()
    page.get_by_role("button", name="Remove...").click()
    confirm = page.locator("#remove-confirm-text")
    confirm.get_by_text("Remove expenses.md?").wait_for(timeout=20000)
    assert (corpus / "expenses.md").exists(), "removed before it was confirmed"
    page.get_by_role("button", name="Cancel").click()
    page.locator("#job-status").get_by_text("Nothing was removed").wait_for(timeout=20000)
    assert (corpus / "expenses.md").exists()
    page.get_by_role("button", name="Remove...").click()
    page.get_by_role("button", name="Yes, remove expenses.md").click()
    page.locator("#job-status").get_by_text("expenses.md (remove)").wait_for(timeout=20000)
    page.locator("#job-status").get_by_text("Done").wait_for(timeout=20000)
    assert not (corpus / "expenses.md").exists()
    assert "45p" not in ask(url, MILEAGE)["answer"]


def test_a_bad_upload_says_why_and_changes_nothing(console_server, console_page, tmp_path):
    url, corpus = console_server
    page = console_page
    before = sorted(p.name for p in corpus.iterdir())
    broken = tmp_path / "broken.md"
    broken.write_text(
        "---\ntitle: Safeguarding: a guide\nurl: [unclosed\n---\n# Text\n\nSome text.\n", encoding="utf-8"
    )
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Choose a document to add").click()
    chooser.value.set_files(str(broken))
    page.locator("#job-status").get_by_text("Not added").wait_for(timeout=20000)
    assert "front matter is not valid YAML" in page.locator("#job-status").inner_text()
    assert sorted(p.name for p in corpus.iterdir()) == before


def test_a_declined_question_appears_redacted_with_the_charts(console_server, console_page):
    url, _ = console_server
    page = console_page
    assert ask(url, DECLINED)["declined"]
    page.reload(wait_until="load")
    page.get_by_role("tab", name="Questions not answered").click()
    wait_text(page, "[email]", "#topics-table")
    content = page.content()
    assert "jo.bloggs" not in content and "what songs should our prison choir sing?" in content
    weekly = page.locator("#weekly-chart svg[role=img]")
    topics = page.locator("#topics-chart svg[role=img]")
    assert weekly.locator("rect").count() > 3 and topics.locator("rect").count() >= 1
    # This week's declines include it (the mileage question, asked before its document was added, is
    # declined too).
    this_week = weekly.locator("desc").text_content().split(";")[-1]
    assert int(re.search(r"declined (\d+)", this_week).group(1)) >= 1
    box = weekly.bounding_box()
    assert box["width"] > 300 and box["height"] > 100  # drawn, not collapsed
    settled(page)
    assert run_axe(page) == []
    page.screenshot(path=str(ARTEFACTS / "console-gaps.png"), full_page=True)
    csv_link = page.get_by_role("link", name="Download these questions as a spreadsheet (CSV, 30 days)")
    with page.expect_download() as download:
        csv_link.click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert "[email]" in text and "jo.bloggs" not in text

    for tab in ("Feedback", "Assistant and glossary", "Audit log"):
        page.get_by_role("tab", name=tab).click()
        settled(page)
        assert run_axe(page) == [], tab
    page.screenshot(path=str(ARTEFACTS / "console-audit.png"), full_page=True)
    for entry in ("login_failed", "upload", "remove", "expenses.md"):
        wait_text(page, entry)
    assert "jo.bloggs" not in page.evaluate("() => document.body.innerText")
    assert page.errors == [] and [u for u in page.requests if not u.startswith((url, "data:", "blob:"))] == []


def test_a_web_source_is_added_synced_and_its_text_shown(console_server, console_page):
    from tests.web_site import Site

    url, _ = console_server
    page = console_page
    with Site() as site:
        grants = f"{site.base}/guidance/grants"
        page.get_by_role("tab", name="Web sources").click()
        page.get_by_label("Web address of a page or a sitemap").fill(grants)
        page.get_by_role("button", name="Add source").click()
        page.locator("#sync-status").get_by_text("Added").wait_for(timeout=20000)
        wait_text(page, grants, "#sources-table")
        page.get_by_role("button", name="Sync now").click()
        page.locator("#sync-status").get_by_text("Synced").wait_for(timeout=60000)
        assert "1 added" in page.locator("#sync-status").inner_text()
        wait_text(page, "Community Justice Fund grants", "#pages-table")
        page.get_by_label("Show the text kept for a page").click()
        page.get_by_role("option", name=grants).click()
        page.wait_for_function(
            "() => (document.querySelector('#page-text textarea') || {value: ''}).value.includes('£2,500')",
            timeout=20000,
        )
        assert "cookies" not in page.locator("#page-text textarea").input_value()
        settled(page)
        assert run_axe(page) == []
        page.screenshot(path=str(ARTEFACTS / "console-web-sources.png"), full_page=True)
        reply = ask(url, "what's the smallest grant we can get from the community justice fund?")
        assert "£2,500" in reply["answer"] and any(c["url"].startswith(grants) for c in reply["citations"])


def test_the_console_survives_a_narrow_phone_screen(console_server, browser):
    url, _ = console_server
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(url + "/admin/login", wait_until="load")
    page.screenshot(path=str(ARTEFACTS / "console-login-phone.png"))
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    wait_text(page, "Documents in the guidance", timeout=60000)
    settled(page)
    # Every tab is there to tap (none hidden behind a "..." menu), each at least 44 px high.
    tabs = page.get_by_role("tab")
    assert [t.inner_text() for t in tabs.all()] == [
        "Documents", "Web sources", "Questions not answered", "Feedback", "Assistant and glossary", "Audit log"
    ]
    assert all(t.is_visible() and t.bounding_box()["height"] >= 44 for t in tabs.all())
    # The documents table's header is one line, not a letter a line.
    header = page.locator("#component-0 th, table th").first
    assert header.bounding_box()["height"] < 60
    page.screenshot(path=str(ARTEFACTS / "console-documents-phone.png"))
    page.get_by_role("tab", name="Audit log").click()
    wait_text(page, "Who did what in the console")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    context.close()


assert AXE  # axe-core comes with `make test` (node_modules)
