"""A fetched page's own words, as a guidance document: Markdown with its title, URL and date.

HTML goes through trafilatura (main-content extraction: navigation, cookie banners, footers and
"donate" furniture dropped; headings, lists and tables kept as Markdown, which the chunker
expects). PDF and Word documents go through the corpus' own readers. The citation URL is the page's
canonical URL when the page names one on its own site, else the address it was fetched from.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from assistant.sources.fetch import Fetched

_EMPHASIS = re.compile(r"(\*\*|__|(?<![\w*])\*(?=\S))(.+?)(?<=\S)\1")


# Page furniture, removed before extraction: on a short page the extractor's fallbacks would
# otherwise keep a menu or a cookie banner as if it were the page's text.
FURNITURE = [
    "//nav",
    "//header",
    "//footer",
    "//aside",
    "//*[@role='navigation' or @role='banner' or @role='contentinfo' or @role='dialog' or @role='search']",
    "//*[contains(@class, 'cookie') or contains(@id, 'cookie')]",
    "//*[contains(@class, 'donate') or contains(@id, 'donate')]",
    "//*[contains(@class, 'skip-link') or contains(@class, 'breadcrumb')]",
]


class NoText(Exception):
    """A page with nothing to quote; the message says why."""


@dataclass(frozen=True)
class Page:
    url: str  # what citations link to
    title: str
    date: str  # the page's last modified date (YYYY-MM-DD) when it gives one
    text: str  # Markdown

    def document(self) -> str:
        """The page as a corpus document: front matter, then its text."""
        meta = {"title": self.title, "url": self.url}
        if self.date:
            meta["date"] = self.date
        front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=10_000)
        return f"---\n{front}---\n\n{self.text.strip()}\n"


def extract(fetched: Fetched) -> Page:
    if fetched.kind == "html":
        return _html(fetched)
    if fetched.kind in ("pdf", "docx"):
        return _file(fetched)
    raise NoText(f"it is not a web page, PDF or Word document ({fetched.content_type or 'no type'})")


def _html(fetched: Fetched) -> Page:
    import trafilatura

    try:
        html = fetched.body.decode("utf-8")
    except UnicodeDecodeError:
        html = fetched.body.decode("cp1252", "replace")
    text = trafilatura.extract(
        html,
        url=fetched.url,
        output_format="markdown",
        include_tables=True,
        include_formatting=True,  # headings and lists as Markdown (emphasis is taken out below)
        include_comments=False,
        include_images=False,
        include_links=False,
        favor_recall=True,  # guidance pages are short; losing a paragraph costs more than a stray line
        prune_xpath=FURNITURE,
    )
    if not text or not text.strip():
        raise NoText("no main text could be found in it")
    text = _EMPHASIS.sub(r"\2", text)  # quotes are plain text: **bold** and *italic* become their words
    meta = trafilatura.extract_metadata(
        html, default_url=fetched.url, date_config={"original_date": False, "extensive_search": False}
    )
    canonical = (meta.url or "") if meta else ""
    same_site = urlsplit(canonical).netloc.lower() == urlsplit(fetched.url).netloc.lower()
    url = canonical if canonical and same_site and canonical.startswith(("http://", "https://")) else fetched.url
    title = " ".join((meta.title or "").split()) if meta else ""
    return Page(url=url, title=title or _title_from_url(fetched.url), date=(meta.date or "") if meta else "", text=text)


def _file(fetched: Fetched) -> Page:
    from assistant.corpus.documents import UnreadableDocument, load_document

    suffix = ".pdf" if fetched.kind == "pdf" else ".docx"
    with tempfile.TemporaryDirectory(prefix="assistant-sync-") as folder:
        path = Path(folder) / f"page{suffix}"
        path.write_bytes(fetched.body)
        try:
            doc, _warnings = load_document(path, path.name)
        except UnreadableDocument as err:
            raise NoText(str(err)) from err
    title = doc.title if doc.title and doc.title.lower() != "page" else _title_from_url(fetched.url)
    return Page(url=fetched.url, title=title, date=_http_date(fetched.last_modified), text=doc.text)


def _title_from_url(url: str) -> str:
    path = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    words = path.rsplit(".", 1)[0].replace("-", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else urlsplit(url).netloc


def _http_date(value: str) -> str:
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value).strftime("%Y-%m-%d") if value else ""
    except (TypeError, ValueError):
        return ""
