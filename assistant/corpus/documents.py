"""Loading guidance documents of any supported format into one shape: Markdown text plus metadata.

Every format is converted to Markdown (headings as `#`, lists as `- `) so that one chunker
serves them all. A file that cannot be read is reported and skipped; the others still load.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.corpus.archives import UnsafeArchive, check_archive
from assistant.corpus.source_urls import is_web_address, own_address_problem, own_hosts

log = logging.getLogger(__name__)

SUPPORTED = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx")
TEXT_FORMATS = (".md", ".markdown", ".txt", ".html", ".htm")
ZIP_BASED = (".docx",)  # every supported kind that is a zip archive (checked by archives.py)
DEFAULT_MAX_BYTES = 10_000_000


@dataclass(frozen=True)
class SourceDocument:
    doc_id: str  # path relative to the corpus folder: stable, and unique within it
    title: str
    url: str
    text: str  # Markdown
    publisher: str = ""
    date: str = ""
    file_hash: str = ""


@dataclass
class LoadResult:
    documents: list[SourceDocument] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    warnings: list[str] = field(default_factory=list)


class UnreadableDocument(Exception):
    """A file that cannot be turned into text; the message says why, in plain words."""


def load_corpus(
    folder: Path, max_bytes: int = DEFAULT_MAX_BYTES, budget: ParseBudget | None = None, hosts: Iterable[str] = ()
) -> LoadResult:
    """Every supported document in the folder; `budget` bounds reading a Word file or a PDF (in a
    child process), `hosts` are the app's own host names, refused in a source URL."""
    result = LoadResult()
    if not folder.is_dir():
        result.skipped.append((str(folder), "the corpus folder does not exist"))
        return result
    root = folder.resolve()
    declared = declared_sites(folder)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if path.suffix.lower() not in SUPPORTED or any(part.startswith(".") for part in rel.split("/")):
            continue
        try:
            if not path.resolve().is_relative_to(root):
                raise UnreadableDocument("it is a link to a file outside the corpus folder")
            size = path.stat().st_size
            if size > max_bytes:
                raise UnreadableDocument(
                    f"it is {size / 1e6:,.1f} MB; the limit is {max_bytes / 1e6:,.1f} MB (ASSISTANT_MAX_DOCUMENT_MB)"
                )
            doc, warnings = load_document(path, rel, budget, hosts, declared)
        except UnreadableDocument as err:
            result.skipped.append((rel, str(err)))
            log.warning("Skipped %s: %s", rel, err)
            continue
        except Exception as err:  # a broken file must never stop the rest of the corpus
            result.skipped.append((rel, f"could not be read ({type(err).__name__}: {err})"))
            log.warning("Skipped %s: %s", rel, err)
            continue
        result.documents.append(doc)
        result.warnings.extend(warnings)
    return result


def load_document(
    path: Path, doc_id: str, budget: ParseBudget | None = None, hosts: Iterable[str] = (), declared: Iterable[str] = ()
) -> tuple[SourceDocument, list[str]]:
    return read_document(path.read_bytes(), path.name, doc_id, budget, hosts, declared)


def declared_sites(folder: Path) -> frozenset[str]:
    """The sites (host:port) the deployer declared as web sources in the folder's assistant.yaml:
    their pages are the guidance, whatever their address (an intranet, or a test's 127.0.0.1)."""
    from assistant.sources.declared import load_sources

    return frozenset(s.site for s in load_sources(folder / "assistant.yaml"))


def read_document(
    raw: bytes,
    filename: str,
    doc_id: str,
    budget: ParseBudget | None = None,
    hosts: Iterable[str] = (),
    declared: Iterable[str] = (),
) -> tuple[SourceDocument, list[str]]:
    """One document from its bytes (nothing is written: the console checks an upload this way)."""
    budget = budget or ParseBudget()
    suffix = Path(filename).suffix.lower()
    if not raw.strip():
        raise UnreadableDocument("the file is empty")
    _check_kind(suffix, raw)
    if budget.isolate and suffix in ISOLATED:
        text, meta = parse_in_child(suffix, raw, budget)
    else:
        text, meta = parse_here(suffix, raw, budget.max_unpacked)
    text = _tidy(plain_text(text))
    if not re.search(r"\w", text):
        raise UnreadableDocument("no text could be found in it")
    warnings = []
    title = plain_text(str(meta.get("title") or "")).strip()
    if not title:
        title = _title_from_filename(Path(filename))
        warnings.append(f"{doc_id}: no title given; using '{title}' from the file name")
    url = str(meta.get("url") or "").strip()
    shown = url if len(url) <= 60 else url[:57] + "..."
    if url and not is_web_address(url):
        raise UnreadableDocument(
            f"its source URL {shown!r} is not a web address: only http:// and https:// are accepted"
        )
    problem = own_address_problem(url, own_hosts(*hosts), declared) if url else None
    if problem:
        raise UnreadableDocument(f"its source URL {shown!r} is refused: {problem}")
    if not url:
        # Served by the web app itself, so the citation still opens the passage.
        url = f"/documents/{doc_id}"
        warnings.append(f"{doc_id}: no source URL given; linking to the app's copy at {url}")
    for warning in warnings:
        log.warning(warning)
    doc = SourceDocument(
        doc_id=doc_id,
        title=title,
        url=url,
        text=text,
        publisher=plain_text(str(meta.get("publisher") or "")).strip(),
        date=plain_text(str(meta.get("date") or "")).strip(),
        file_hash=hashlib.sha256(raw).hexdigest(),
    )
    return doc, warnings


def parse_here(suffix: str, raw: bytes, max_unpacked: int) -> tuple[str, dict]:
    """(Markdown, metadata) read in this process: a zip is checked before its parser opens it."""
    if suffix in ZIP_BASED:
        try:
            check_archive(raw, max_unpacked)
        except UnsafeArchive as err:
            raise UnreadableDocument(str(err)) from err
    return _READERS[suffix](raw)


def _check_kind(suffix: str, raw: bytes) -> None:
    """Refuse a file that is not what its name says: binary bytes in a text format, or a "PDF" or
    "Word" file without their signature. Garbage must never become quotable passages."""
    if suffix in TEXT_FORMATS:
        sample = raw[:65536]
        text = _decode(sample)
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
        if b"\x00" in sample or controls > len(text) / 100 or text.count("\ufffd") > len(text) / 100:
            raise UnreadableDocument("it looks like a binary file, not text")
    elif suffix == ".pdf" and raw.lstrip()[:5] != b"%PDF-":
        raise UnreadableDocument("it is not a PDF file (it does not start as one)")
    elif suffix == ".docx" and not raw.startswith(b"PK\x03\x04"):
        raise UnreadableDocument("it is not a Word (.docx) file (it does not start as one)")


_SCRIPT_OR_STYLE = re.compile(r"<\s*(script|style)\b[^>]*>.*?<\s*/\s*\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z!?][^<>]*>")
_TAG_START = re.compile(r"<(?=[A-Za-z!/?])")


def plain_text(text: str) -> str:
    """Text with no HTML in it: entities decoded, scripts, comments and tags removed, and a '<' that
    could still open a tag followed by a space. Titles, sections, dates and quotes in answers are
    plain text (README: "What the API returns"), safe to show however a site shows them."""
    if "<" not in text and "&" not in text:
        return text
    import html

    text = html.unescape(text)
    for pattern in (_SCRIPT_OR_STYLE, _COMMENT, _TAG):
        text = pattern.sub(_gap, text)
    return _TAG_START.sub("< ", text)


def _gap(match: re.Match) -> str:
    """What replaces removed markup: a space between two words ("a<br>b"), else nothing."""
    text, start, end = match.string, match.start(), match.end()
    between_words = start > 0 and end < len(text) and not text[start - 1].isspace() and not text[end].isspace()
    return " " if between_words else ""


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def _read_markdown(raw: bytes) -> tuple[str, dict]:
    import frontmatter
    import yaml

    text = _decode(raw)
    try:
        post = frontmatter.loads(text)
        return post.content, dict(post.metadata)
    except yaml.YAMLError:
        # Hand-written front matter often breaks YAML ("title: Safeguarding: a guide"): read it
        # as plain "key: value" lines rather than lose the document.
        match = _FRONT_MATTER.match(text)
        if not match:
            raise
        meta = {}
        for line in match.group(1).splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip().isidentifier():
                meta[key.strip()] = value.strip().strip("\"'")
        log.warning("A document's front matter is not valid YAML; read it line by line")
        return text[match.end() :], meta


def _read_text(raw: bytes) -> tuple[str, dict]:
    return _decode(raw), {}


def _read_html(raw: bytes) -> tuple[str, dict]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(raw), "html.parser")
    meta = {}
    if soup.title and soup.title.string:
        meta["title"] = soup.title.string.strip()
    canonical = soup.find("link", rel="canonical") or soup.find("meta", property="og:url")
    if canonical:
        meta["url"] = canonical.get("href") or canonical.get("content")
    for tag in soup(["script", "style", "nav", "footer", "header", "noscript", "template"]):
        tag.decompose()
    lines = []
    body = soup.body or soup
    for el in body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li"]):
        text = " ".join(el.get_text(" ").split())
        if not text:
            continue
        if el.name.startswith("h"):
            level = int(el.name[1])
            if level == 1 and "title" not in meta:
                meta["title"] = text
            lines += ["", "#" * max(level, 2) + " " + text, ""]
        elif el.name == "li":
            lines.append("- " + text)
        elif el.find_parent("li") is None:
            lines += ["", text, ""]
    return "\n".join(lines), meta


def _read_pdf(raw: bytes) -> tuple[str, dict]:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        pages = [page.extract_text() or "" for page in reader.pages]
    except PdfReadError as err:
        raise UnreadableDocument(f"it is not a readable PDF ({err})") from err
    meta = {}
    if reader.metadata and reader.metadata.title:
        meta["title"] = reader.metadata.title
    # PDF text has hard line breaks inside sentences; blank lines still separate paragraphs.
    paragraphs = []
    for page in pages:
        for block in re.split(r"\n\s*\n", page):
            paragraphs.append(" ".join(block.split()))
    return "\n\n".join(p for p in paragraphs if p), meta


def _read_docx(raw: bytes) -> tuple[str, dict]:
    import io
    import zipfile

    import docx

    try:
        document = docx.Document(io.BytesIO(raw))
    except (zipfile.BadZipFile, KeyError, ValueError) as err:
        raise UnreadableDocument(f"it is not a readable Word document ({err})") from err
    meta = {"title": document.core_properties.title or ""}
    lines = []
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name or "").lower() if para.style is not None else ""
        if style == "title":
            meta["title"] = meta["title"] or text
        elif style.startswith("heading"):
            level = int(style.split()[-1]) if style.split()[-1].isdigit() else 2
            lines += ["", "#" * min(max(level + 1, 2), 6) + " " + text, ""]
        elif "list" in style:
            lines.append("- " + text)
        else:
            lines += ["", text, ""]
    return "\n".join(lines), meta


_READERS = {
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".txt": _read_text,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
}


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _title_from_filename(path: Path) -> str:
    words = re.sub(r"[-_]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else "Untitled document"


from assistant.corpus.sandbox import ISOLATED, ParseBudget, parse_in_child  # noqa: E402 - it imports this module
