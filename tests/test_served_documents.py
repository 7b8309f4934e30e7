"""What `/documents/` serves, and which source addresses are taken: an uploaded HTML page is shown
as plain text (its script never runs), a Word file is a download, a PDF opens in the browser's
viewer, all under the sandbox CSP; a source URL or a contact link pointing at the app itself (its
console, its API, its own host) is refused with a plain message."""

from __future__ import annotations

import io
import shutil
import time

import docx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import ROOT, make_settings
from tests.test_documents import minimal_pdf

PASSWORD = "a long console passphrase"
ADMIN = ("admin", PASSWORD)
PAGE = (
    "<html><head><title>Grants page</title></head><body><h2>Grants</h2><p>Grants are paid every March to "
    "volunteer groups.</p><script>document.title='pwned'</script></body></html>"
)
SCRIPT = {"X-Requested-With": "clinks-console"}  # every /api/admin/ change sends it (test_console.py)


def word_file() -> bytes:
    out = io.BytesIO()
    d = docx.Document()
    d.core_properties.title = "Word guide"
    d.add_paragraph("Volunteers are thanked every June at the summer event.")
    d.save(out)
    return out.getvalue()


@pytest.fixture
def app_client(tmp_path):
    from assistant.service import Service
    from assistant.web.app import create_app

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("probation-services.md", "glossary.yaml", "assistant.yaml"):
        shutil.copy(ROOT / "corpus" / name, corpus)
    (corpus / "page.html").write_text(PAGE)
    (corpus / "guide.docx").write_bytes(word_file())
    (corpus / "leaflet.pdf").write_bytes(minimal_pdf("Cyber Essentials leaflet text"))
    settings = make_settings(tmp_path, corpus, admin_password=PASSWORD, rate_limit="")
    service = Service(settings)
    service.ingest()
    with TestClient(create_app(settings, service), base_url="http://assistant.example.org") as client:
        client.corpus = corpus
        yield client


def test_documents_are_never_served_as_active_html(app_client):
    html = app_client.get("/documents/page.html")
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/plain")
    assert "sandbox" in html.headers["content-security-policy"] and html.headers["x-content-type-options"] == "nosniff"
    word = app_client.get("/documents/guide.docx")
    assert word.status_code == 200 and word.headers["content-disposition"].startswith("attachment")
    pdf = app_client.get("/documents/leaflet.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert not pdf.headers.get("content-disposition", "").startswith("attachment")  # the browser's viewer
    markdown = app_client.get("/documents/probation-services.md")
    assert markdown.headers["content-type"].startswith("text/plain")


def wait_for_job(client, job_id):
    deadline = time.time() + 60
    while time.time() < deadline:
        job = client.get(f"/api/admin/jobs/{job_id}", auth=ADMIN).json()["job"]
        if job["state"] != "running":
            return job
        time.sleep(0.1)
    raise AssertionError("the ingest did not finish")


@pytest.mark.parametrize(
    "url",
    [
        "http://assistant.example.org/admin/",  # the host the upload came in on
        "https://ASSISTANT.example.org./api/admin/documents",
        "http://127.0.0.1:7860/admin/login",
        "http://localhost/documents/x",
        "http://[::1]:8000/",
    ],
)
def test_a_source_url_pointing_at_the_app_itself_is_refused(app_client, url):
    before = sorted(p.name for p in app_client.corpus.iterdir())
    doc = f"---\ntitle: Sneaky\nurl: {url}\n---\n# Sneaky\n\n## Part\n\nSome text about grants here.\n".encode()
    r = app_client.post("/api/admin/documents", auth=ADMIN, headers=SCRIPT, files={"file": ("sneaky.md", doc)})
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    assert "its source URL" in message and "points at this assistant's own server" in message
    assert sorted(p.name for p in app_client.corpus.iterdir()) == before


def test_other_sources_are_still_taken(app_client):
    doc = b"---\ntitle: Fine\nurl: https://www.example.org/admin/guide\n---\n# Fine\n\n## Part\n\nGrants are paid in May.\n"
    r = app_client.post("/api/admin/documents", auth=ADMIN, headers=SCRIPT, files={"file": ("fine.md", doc)})
    assert r.status_code == 202, r.text
    assert wait_for_job(app_client, r.json()["job"]["id"])["state"] == "done"


def test_a_corpus_file_pointing_at_the_app_is_skipped_at_ingest(tmp_path):
    from assistant.corpus.documents import load_corpus

    (tmp_path / "a.md").write_text("---\ntitle: A\nurl: http://127.0.0.1:7860/admin/\n---\n# A\n\nText.\n")
    (tmp_path / "b.html").write_text(
        '<html><head><title>B</title><link rel="canonical" href="http://localhost:7860/api/admin/audit"></head>'
        "<body><p>Some text here.</p></body></html>"
    )
    (tmp_path / "c.md").write_text("---\ntitle: C\nurl: http://my-server.internal/admin/\n---\n# C\n\nText.\n")
    result = load_corpus(tmp_path, hosts=["my-server.internal"])
    skipped = dict(result.skipped)
    assert set(skipped) == {"a.md", "b.html", "c.md"}
    assert all("points at this assistant's own server" in reason for reason in skipped.values())


@pytest.mark.parametrize(
    "url", ["/admin/", "/api/admin/documents", "//evil.example/x", "/\\evil.example", "http://127.0.0.1/admin"]
)
def test_a_contact_link_to_the_console_or_another_host_is_refused(app_client, url):
    original = app_client.get("/api/admin/files/assistant.yaml", auth=ADMIN).text
    text = f"name: Helper\ncontacts:\n  - name: Staff\n    url: '{url}'\n"
    r = app_client.put("/api/admin/files/assistant.yaml", auth=ADMIN, headers=SCRIPT, content=text.encode())
    assert r.status_code == 422, r.text
    assert "Contact 1's url" in r.json()["error"]["message"]
    assert app_client.get("/api/admin/files/assistant.yaml", auth=ADMIN).text == original
