"""Hostile or broken documents: markup never reaches the API as markup, only web addresses are
sources, binary and oversized files are skipped with a message naming them, nothing outside the
index is served, and the collection of an unfinished ingest does not stay for ever."""

import os
import re

import pytest
from fastapi.testclient import TestClient

from assistant.corpus.index import PENDING_FILE, Manifest
from assistant.service import Service
from assistant.web.app import create_app
from tests.conftest import make_settings

TAG = re.compile(r"<[A-Za-z!/?]")  # what could open a tag if a site inserted the text as HTML

HOSTILE = """---
title: "<script>alert('title')</script>Grants <b>guide</b>"
url: https://example.org/grants
date: "<img src=x onerror=alert('date')>2024-01-01"
publisher: "<i>Someone</i>"
---
## <span onmouseover="alert('section')">Applying</span> for a grant

You apply for a probation grant through the <a href="javascript:alert(1)">grants portal</a> &lt;script&gt;alert('quote')&lt;/script&gt; before the deadline.

<!-- a comment that <b>hides</b> things -->
The deadline for a probation grant application is 31 March each year.
"""


@pytest.fixture
def hostile_corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "grants.md").write_text(HOSTILE, encoding="utf-8")
    (folder / "bad-link.md").write_text(
        "---\ntitle: Bad link\nurl: javascript:alert(document.cookie)\n---\n## Costs\n\nQualifying costs nothing at all.\n"
    )
    (folder / "data-link.html").write_text(
        '<html><head><title>T</title><link rel="canonical" href="data:text/html,hi"></head><body><p>Some text here.</p></body></html>'
    )
    (folder / "random.md").write_bytes(os.urandom(4000))
    (folder / "fake.pdf").write_bytes(b"this is not a pdf at all, just text pretending")
    (folder / "huge.txt").write_text("A sentence about grants. " * 50_000)  # about 1.25 MB
    (folder / ".env").write_text("SECRET=1\n")
    hidden = folder / ".private"
    hidden.mkdir()
    (hidden / "notes.md").write_text("# Private\n\nNot for anyone.\n")
    outside = tmp_path / "outside.txt"
    outside.write_text("Text from outside the corpus folder.\n")
    (folder / "linked.txt").symlink_to(outside)
    return folder


@pytest.fixture
def hostile_service(tmp_path, hostile_corpus):
    svc = Service(make_settings(tmp_path, hostile_corpus, max_document_mb=1.0))
    summary = svc.ingest()
    return svc, summary


def test_broken_and_unsafe_files_are_skipped_with_a_message_naming_each(hostile_service):
    _, summary = hostile_service
    skipped = dict(summary.skipped)
    assert set(skipped) == {"bad-link.md", "data-link.html", "random.md", "fake.pdf", "huge.txt", "linked.txt"}
    assert (
        "only http:// and https:// are accepted" in skipped["bad-link.md"] and "javascript:" in skipped["bad-link.md"]
    )
    assert "data:text/html" in skipped["data-link.html"]
    assert skipped["random.md"] == "it looks like a binary file, not text"
    assert "not a PDF file" in skipped["fake.pdf"]
    assert "1.2 MB; the limit is 1.0 MB" in skipped["huge.txt"]
    assert "outside the corpus folder" in skipped["linked.txt"]
    lines = "\n".join(summary.lines())
    assert "Skipped bad-link.md:" in lines and "Skipped random.md:" in lines
    assert summary.documents == 1  # grants.md only: hidden folders and dot files are never read


def test_titles_sections_dates_and_quotes_are_plain_text_in_the_api(hostile_service):
    svc, _ = hostile_service
    client = TestClient(create_app(settings=svc.settings.model_copy(update={"rate_limit": ""}), service=svc))
    data = client.post("/api/ask", json={"question": "when is the deadline for a probation grant application?"}).json()
    assert data["status"] == "answered", data
    assert "31 March" in data["answer"]
    for citation in data["citations"]:
        for field in ("title", "section", "date", "quote"):
            assert not TAG.search(citation[field]), (field, citation[field])
        assert citation["title"] == "Grants guide" and citation["date"] == "2024-01-01"
        assert citation["url"].startswith("https://example.org/grants")
    assert not TAG.search(data["answer"])
    manifest = Manifest.read(svc.settings.index_dir)
    assert {c.section for c in manifest.chunks} >= {"Applying for a grant"}
    assert all(not TAG.search(c.text) for c in manifest.chunks)


def test_only_indexed_documents_are_served(hostile_service, hostile_corpus):
    svc, _ = hostile_service
    (hostile_corpus / "notes.md").write_text("# Added after the ingest\n\nNot indexed yet.\n")
    client = TestClient(create_app(service=svc))
    assert client.get("/documents/grants.md").status_code == 200
    for name in (
        ".env",
        ".private/notes.md",
        "notes.md",
        "random.md",
        "linked.txt",
        "../outside.txt",
        "%2e%2e/outside.txt",
    ):
        r = client.get(f"/documents/{name}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", name


def test_the_collection_of_an_unfinished_first_ingest_is_removed(tmp_path, corpus_copy):
    svc = Service(make_settings(tmp_path, corpus_copy))
    # As a first ingest killed half-way leaves it: a collection, its name written down, no manifest.
    orphan = "guidance-0123456789ab"
    svc.client.get_or_create_collection(orphan)
    index_dir = svc.settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    (index_dir / PENDING_FILE).write_text(orphan)
    (index_dir / ".manifest.json.999.tmp").write_text("{half")
    svc.ingest()
    names = {c.name for c in svc.client.list_collections()}
    assert names == {Manifest.read(index_dir).collection}
    assert not (index_dir / PENDING_FILE).exists() and not list(index_dir.glob(".*.tmp*"))
