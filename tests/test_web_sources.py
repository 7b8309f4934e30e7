"""Web sources: the assistant reads a site itself (a local one on 127.0.0.1, tests/web_site.py),
keeps it in sync, and cites the live page. Nothing here reaches outside 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, make_settings
from tests.servers import assistant_env, run_cli
from tests.web_site import GRANTS, Site, page

SMALLEST = "what's the smallest grant we can get from the community justice fund?"
TRAINING = "how many hours of safeguarding training do peer mentors need?"


def corpus_with(folder: Path, sources: str) -> Path:
    """A corpus folder holding only the deployer's file, with these web sources declared."""
    corpus = folder / "corpus"
    corpus.mkdir()
    text = (ROOT / "corpus" / "assistant.yaml").read_text(encoding="utf-8")
    (corpus / "assistant.yaml").write_text(text + "\n" + sources, encoding="utf-8")
    return corpus


def sync(env) -> dict:
    done = run_cli(env, "sync", "--json")
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return json.loads(done.stdout)


def ask(env, question: str) -> dict:
    done = run_cli(env, "ask", question, "--json")
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return json.loads(done.stdout)


def by_outcome(report: dict, outcome: str) -> set[str]:
    return {p["url"] for p in report["pages"] if p["outcome"] == outcome}


@pytest.fixture
def site():
    with Site() as running:
        yield running


def test_a_site_is_synced_cited_changed_and_removed(site, tmp_path):
    b = site.base
    corpus = corpus_with(tmp_path, f"sources:\n  - url: {b}/sitemap_index.xml\n  - url: {b}/broken-sitemap.xml\n")
    env = assistant_env(
        tmp_path / "data", corpus_dir=corpus, web_delay_seconds=0, web_timeout_seconds=2, max_document_mb=1
    )
    report = sync(env)

    # What it took, and what it did not, each with its reason.
    assert by_outcome(report, "added") == {
        f"{b}/guidance/grants",
        f"{b}/guidance/mentoring",
        f"{b}/files/mentor-handbook.pdf",
    }
    assert report["added"] == 3
    failed = {p["url"]: p["error"] for p in report["pages"] if p["outcome"] == "failed"}
    assert "another site" in failed[f"{b}/guidance/moved"]
    assert "longer than" in failed[f"{b}/guidance/slow"] or "no answer within" in failed[f"{b}/guidance/slow"]
    assert "larger than" in failed[f"{b}/guidance/huge"]
    assert "sitemap could not be read" in failed[f"{b}/broken-sitemap.xml"]
    skipped = {p["url"]: p["error"] for p in report["pages"] if p["outcome"] == "skipped"}
    assert "robots.txt" in skipped[f"{b}/private/board-minutes"]
    assert "not a web page" in skipped[f"{b}/images/logo.png"]
    assert "another site" in skipped["https://elsewhere.example/guidance/other-site"]
    assert site.requested("/private/") == [], "a page robots.txt disallows was requested"
    assert all("ClinksGuidanceAssistant" in r["user_agent"] for r in site.requests)

    # An answer quotes the page and links to the live page's sentence.
    answer = ask(env, SMALLEST)
    assert "£2,500" in answer["answer"]
    assert any(c["url"].startswith(f"{b}/guidance/grants#:~:text=") for c in answer["citations"]), answer["citations"]
    grants = next(c for c in answer["citations"] if c["url"].startswith(f"{b}/guidance/grants"))
    assert grants["title"] == "Community Justice Fund grants" and grants["date"] == "2026-10-14"

    # The page changes: only it is fetched in full (the others answer 304), and the answer follows.
    site.html(
        "/guidance/grants",
        page(
            "Community Justice Fund grants",
            GRANTS.replace("£2,500", "£3,000"),
            canonical=f"{b}/guidance/grants",
            modified="2026-11-20",
        ),
    )
    before = len(site.requests)
    report = sync(env)
    assert report["changed"] == 1 and by_outcome(report, "changed") == {f"{b}/guidance/grants"}
    assert report["unchanged"] == 2 and report["added"] == 0 and report["removed"] == 0
    conditional = [
        r for r in site.requests[before:] if r["path"] in ("/guidance/mentoring", "/files/mentor-handbook.pdf")
    ]
    assert conditional and all(r["if_none_match"] for r in conditional)
    answer = ask(env, SMALLEST)
    assert "£3,000" in answer["answer"] and "£2,500" not in answer["answer"]

    # The page goes: it is removed, and no longer cited.
    assert any(c["url"].startswith(f"{b}/guidance/mentoring") for c in ask(env, TRAINING)["citations"])
    site.remove("/guidance/mentoring")
    report = sync(env)
    assert by_outcome(report, "removed") == {f"{b}/guidance/mentoring"} and report["removed"] == 1
    answer = ask(env, TRAINING)
    assert not any(c["url"].startswith(f"{b}/guidance/mentoring") for c in answer["citations"])
    assert site.requested("/private/") == []


def test_the_page_s_own_words_and_nothing_else(site, tmp_path):
    from assistant.sources.declared import WebSource
    from assistant.sources.sync import Syncer

    settings = make_settings(tmp_path, corpus_with(tmp_path, ""), web_delay_seconds=0)
    report = Syncer(settings).sync([WebSource(f"{site.base}/guidance/grants")])
    assert report.counts()["added"] == 1
    [kept] = list((settings.corpus_dir / "web-pages").rglob("*.md"))
    text = kept.read_text(encoding="utf-8")
    front, body = text.split("\n---\n", 1)
    assert f"url: {site.base}/guidance/grants" in front and "title: Community Justice Fund grants" in front
    assert "date: '2026-10-14'" in front or "date: 2026-10-14" in front
    # Headings, the table and the accordion's hidden answers are kept, as the chunker expects them.
    assert "## How much you can apply for" in body
    assert "| Under £100,000 | £7,500 |" in body.replace("  ", " ")
    assert "Each organisation may hold only one Community Justice Fund grant" in body
    # Navigation, the cookie banner, the donate box and the footer are not.
    for furniture in ("cookies", "Donate", "Registered charity number", "About us", "Privacy policy"):
        assert furniture not in body, furniture

    # A short page too (where an extractor's fallbacks tend to keep the menu).
    site.html("/guidance/hours", page("Helpline hours", "<p>The helpline is open from 9am to 5pm on weekdays.</p>"))
    Syncer(settings).sync([WebSource(f"{site.base}/guidance/grants"), WebSource(f"{site.base}/guidance/hours")])
    [short] = [p for p in (settings.corpus_dir / "web-pages").rglob("*.md") if p != kept]
    body = short.read_text(encoding="utf-8").split("\n---\n", 1)[1]
    assert body.split() == "# Helpline hours The helpline is open from 9am to 5pm on weekdays.".split(), body


def test_polite_one_request_at_a_time_with_a_delay_and_304s_when_unchanged(site, tmp_path):
    from assistant.sources.declared import WebSource
    from assistant.sources.sync import Syncer

    settings = make_settings(tmp_path, corpus_with(tmp_path, ""), web_delay_seconds=0.3)
    sources = [WebSource(f"{site.base}/guidance/grants"), WebSource(f"{site.base}/guidance/mentoring")]
    assert Syncer(settings).sync(sources).counts()["added"] == 2
    gaps = [b["at"] - a["at"] for a, b in zip(site.requests, site.requests[1:], strict=False)]
    assert gaps and min(gaps) >= 0.28, gaps  # robots.txt, then each page, a delay apart
    before = len(site.requests)
    again = Syncer(settings).sync(sources)
    assert again.counts() == {"added": 0, "changed": 0, "unchanged": 2, "removed": 0, "failed": 0, "skipped": 0}
    assert [r["if_none_match"] != "" for r in site.requests[before:] if r["path"].startswith("/guidance/")] == [
        True,
        True,
    ]


def test_a_failing_page_keeps_its_last_good_version(site, tmp_path):
    from assistant.sources.declared import WebSource
    from assistant.sources.sync import Syncer

    settings = make_settings(tmp_path, corpus_with(tmp_path, ""), web_delay_seconds=0, web_timeout_seconds=1)
    source = [WebSource(f"{site.base}/guidance/slow")]
    site.slow_seconds = 0
    assert Syncer(settings).sync(source).counts()["added"] == 1
    site.slow_seconds = 3
    site.html("/guidance/slow", page("Slow page", "<p>A new version that never arrives in time.</p>"))
    report = Syncer(settings).sync(source)
    assert report.counts()["failed"] == 1 and "last good version is kept" in report.pages[0].error
    [kept] = list((settings.corpus_dir / "web-pages").rglob("*.md"))
    assert "This page takes a long time to arrive." in kept.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "body, why",
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>'
            b"<urlset><url><loc>&lol2;</loc></url></urlset>",
            "not a readable sitemap",
        ),
        (gzip.compress(b"<urlset>" + b" " * 60_000_000 + b"</urlset>"), "inflates to more than"),
        (b"<html><body>Not a sitemap</body></html>", "not a sitemap"),
    ],
    ids=["entities", "gzip-bomb", "html"],
)
def test_hostile_or_broken_sitemaps_are_refused_plainly(site, tmp_path, body, why):
    from assistant.sources.declared import WebSource
    from assistant.sources.sync import Syncer

    site.pages["/bad-sitemap.xml"] = ("application/xml", body, {})
    settings = make_settings(tmp_path, corpus_with(tmp_path, ""), web_delay_seconds=0)
    started = time.perf_counter()
    report = Syncer(settings).sync([WebSource(f"{site.base}/bad-sitemap.xml")])
    assert time.perf_counter() - started < 10
    [failed] = report.pages
    assert failed.outcome == "failed" and why in failed.error


def test_declared_sources_are_checked_one_by_one(tmp_path, caplog):
    from assistant.sources.declared import DEFAULT_REFRESH_SECONDS, load_sources

    path = tmp_path / "assistant.yaml"
    path.write_text(
        "sources:\n"
        "  - url: https://www.example.org/sitemap.xml\n    include: https://www.example.org/guidance/\n    refresh: 6h\n"
        "  - url: javascript:alert(1)\n"
        "  - url: https://www.example.org/page\n    refresh: 10s\n"
        "  - https://www.example.org/plain-page\n",
        encoding="utf-8",
    )
    sources = load_sources(path)
    assert [s.url for s in sources] == ["https://www.example.org/sitemap.xml", "https://www.example.org/plain-page"]
    assert sources[0].refresh_seconds == 6 * 3600 and sources[1].refresh_seconds == DEFAULT_REFRESH_SECONDS
    assert sources[0].is_sitemap and not sources[1].is_sitemap
    assert sources[0].wants("https://www.example.org/guidance/grants")
    assert not sources[0].wants("https://www.example.org/news/") and not sources[0].wants(
        "https://evil.example/guidance/"
    )
    assert "not a web address" in caplog.text and "shorter than five minutes" in caplog.text


def test_the_shipped_deployer_file_declares_no_source_but_shows_how(tmp_path):
    from assistant.sources.declared import load_sources

    assert load_sources(ROOT / "corpus" / "assistant.yaml") == []
    text = (ROOT / "corpus" / "assistant.yaml").read_text(encoding="utf-8")
    example = "\n".join(
        line[2:]
        for line in text.splitlines()
        if line.startswith("# ") and ("sources:" in line or line.startswith("#   "))
    )
    copy = tmp_path / "assistant.yaml"
    copy.write_text(example, encoding="utf-8")
    assert [s.url.startswith("https://www.clinks.org/") for s in load_sources(copy)] == [True]


def test_sync_with_no_sources_says_so(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    env = assistant_env(tmp_path / "data", corpus_dir=corpus, embedder="hashing")
    done = run_cli(env, "sync", "--json")
    assert done.returncode == 0
    assert "No web sources are declared" in done.stderr.decode()
    assert json.loads(done.stdout)["added"] == 0


def test_serve_keeps_the_sources_fresh_one_sync_at_a_time(site, tmp_path):
    """Two server processes; the page changes and its source falls due: one of them syncs it (the
    page is fetched once, not twice), and both answer the new fact soon after."""
    from tests.servers import App

    b = site.base
    corpus = corpus_with(tmp_path, f"sources:\n  - url: {b}/guidance/grants\n    refresh: 1d\n")
    env = assistant_env(tmp_path / "data", corpus_dir=corpus, web_delay_seconds=0, web_check_seconds=0.5, rate_limit="")
    assert sync(env)["added"] == 1
    app = App(env, workers=2, log=tmp_path / "serve.log").wait_ready()
    try:
        assert "£2,500" in app.ask(SMALLEST).json()["answer"]
        time.sleep(3)  # past the first checks: nothing is due yet, so nothing is fetched
        assert site.requested("/guidance/") == [r for r in site.requests if r["path"] == "/guidance/grants"][:1]
        site.html(
            "/guidance/grants",
            page("Community Justice Fund grants", GRANTS.replace("£2,500", "£3,000"), canonical=f"{b}/guidance/grants"),
        )
        state_file = tmp_path / "data" / "web-sources.json"
        state = json.loads(state_file.read_text())
        state["synced_at"] = {url: 0 for url in state["synced_at"]}  # a day has passed
        changed_at = time.monotonic()
        state_file.write_text(json.dumps(state))
        answers = []
        while time.monotonic() - changed_at < 60:
            answers = [app.ask(SMALLEST).json()["answer"] for _ in range(4)]  # both workers, in turn
            if all("£3,000" in a for a in answers):
                break
            time.sleep(0.25)
        seconds = time.monotonic() - changed_at
        assert all("£3,000" in a for a in answers), (answers, app.log()[-3000:])
        fetched = [r for r in site.requests if r["path"] == "/guidance/grants"]
        assert len(fetched) == 2, "the changed page was fetched more than once: two processes synced it"
        print(f"page change -> new answer from both workers: {seconds:.1f} s")
        assert seconds < 30
    finally:
        app.stop()


def test_a_lost_record_does_not_make_every_page_new(site, tmp_path):
    """Another machine sharing the index synced these pages (or this machine's record was lost):
    pages already in the corpus with the same text are unchanged, not added again."""
    from assistant.sources.declared import WebSource
    from assistant.sources.sync import STATE_FILE, Syncer

    settings = make_settings(tmp_path, corpus_with(tmp_path, ""), web_delay_seconds=0)
    sources = [WebSource(f"{site.base}/guidance/grants"), WebSource(f"{site.base}/guidance/mentoring")]
    assert Syncer(settings).sync(sources).counts()["added"] == 2
    (settings.data_dir / STATE_FILE).unlink()
    site.html("/guidance/mentoring", page("Peer mentoring", "<p>Mentors now meet their supervisor every week.</p>"))
    counts = Syncer(settings).sync(sources).counts()
    assert (counts["added"], counts["unchanged"], counts["changed"]) == (0, 1, 1)
