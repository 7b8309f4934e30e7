"""Loading guidance documents of any supported format into one shape: Markdown text plus metadata.

Every format is converted to Markdown (headings as `#`, lists as `- `) so that one chunker
serves them all. A file that cannot be read is reported and skipped; the others still load.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

SUPPORTED = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx")


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


def load_corpus(folder: Path) -> LoadResult:
    result = LoadResult()
    if not folder.is_dir():
        result.skipped.append((str(folder), "the corpus folder does not exist"))
        return result
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix.lower() not in SUPPORTED or path.name.startswith("."):
            continue
        rel = path.relative_to(folder).as_posix()
        try:
            doc, warnings = load_document(path, rel)
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


def load_document(path: Path, doc_id: str) -> tuple[SourceDocument, list[str]]:
    raw = path.read_bytes()
    if not raw.strip():
        raise UnreadableDocument("the file is empty")
    reader = _READERS[path.suffix.lower()]
    text, meta = reader(path, raw)
    text = _tidy(text)
    if not re.search(r"\w", text):
        raise UnreadableDocument("no text could be found in it")
    warnings = []
    title = str(meta.get("title") or "").strip()
    if not title:
        title = _title_from_filename(path)
        warnings.append(f"{doc_id}: no title given; using '{title}' from the file name")
    url = str(meta.get("url") or "").strip()
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
        publisher=str(meta.get("publisher") or ""),
        date=str(meta.get("date") or ""),
        file_hash=hashlib.sha256(raw).hexdigest(),
    )
    return doc, warnings


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def _read_markdown(path: Path, raw: bytes) -> tuple[str, dict]:
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
        log.warning("%s: its front matter is not valid YAML; read it line by line", path.name)
        return text[match.end() :], meta


def _read_text(path: Path, raw: bytes) -> tuple[str, dict]:
    return _decode(raw), {}


def _read_html(path: Path, raw: bytes) -> tuple[str, dict]:
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


def _read_pdf(path: Path, raw: bytes) -> tuple[str, dict]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
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


def _read_docx(path: Path, raw: bytes) -> tuple[str, dict]:
    import zipfile

    import docx

    try:
        document = docx.Document(str(path))
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
