"""Chunking by structure: headings give the sections, and lists stay whole with their intro.

The same block parser is used again by the answer composer, so what a chunk holds and what an
answer may quote are cut along the same lines.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from assistant.corpus.documents import SourceDocument

MAX_CHUNK_CHARS = 1200
SECTION_SEPARATOR = " > "

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s+(.*)$")
# A sentence ends at . ! or ? followed by space and a capital, digit, quote or bracket.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9‘“'\"(£])")


@dataclass
class ListItem:
    text: str
    children: list[str] = field(default_factory=list)


@dataclass
class Block:
    """A paragraph, or a list together with the paragraph that introduces it."""

    intro: str = ""
    items: list[ListItem] = field(default_factory=list)

    @property
    def is_list(self) -> bool:
        return bool(self.items)

    def render(self) -> str:
        lines = [self.intro] if self.intro else []
        for item in self.items:
            lines.append(f"- {item.text}")
            lines += [f"  - {child}" for child in item.children]
        return "\n".join(lines)


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    url: str
    section: str  # heading path, joined with SECTION_SEPARATOR
    text: str  # Markdown, the passage shown to users
    content_hash: str
    link: str  # deep link to the passage's first sentence
    position: int  # order within the document
    date: str = ""

    @property
    def search_text(self) -> str:
        """What retrieval sees: the heading path adds words the passage itself leaves implicit."""
        return f"{self.title}. {self.section}.\n{self.text}"

    def metadata(self) -> dict:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "url": self.url,
            "section": self.section,
            "content_hash": self.content_hash,
            "link": self.link,
            "position": self.position,
            "date": self.date,
        }

    @classmethod
    def from_metadata(cls, chunk_id: str, text: str, meta: dict) -> Chunk:
        return cls(chunk_id=chunk_id, text=text, **meta)


def parse_blocks(markdown: str) -> list[Block]:
    """Paragraphs and lists of a heading-free Markdown fragment, each list kept with its intro."""
    blocks: list[Block] = []
    paragraph: list[str] = []

    def flush_paragraph() -> None:
        if paragraph:
            blocks.append(Block(intro=" ".join(paragraph)))
            paragraph.clear()

    current_list: Block | None = None
    for line in markdown.splitlines():
        match = _LIST_ITEM.match(line)
        if match:
            indent, text = len(match.group(1).expandtabs(4)), match.group(2).strip()
            if current_list is None:
                # The paragraph just before a list introduces it: they travel together.
                if paragraph:
                    current_list = Block(intro=" ".join(paragraph))
                    paragraph.clear()
                elif blocks and not blocks[-1].is_list and blocks[-1].intro.rstrip().endswith(":"):
                    current_list = blocks.pop()
                else:
                    current_list = Block()
                blocks.append(current_list)
            if indent >= 2 and current_list.items:
                current_list.items[-1].children.append(text)
            else:
                current_list.items.append(ListItem(text))
        elif not line.strip():
            flush_paragraph()
            if current_list is not None:
                current_list = None
        else:
            if current_list is not None:
                current_list = None
            paragraph.append(line.strip())
    flush_paragraph()
    return blocks


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def split_sections(markdown: str) -> list[tuple[tuple[str, ...], str]]:
    """(heading path, body) for each run of text under a heading; text before any heading has ()."""
    sections: list[tuple[tuple[str, ...], str]] = []
    path: list[tuple[int, str]] = []
    body: list[str] = []

    def flush() -> None:
        text = "\n".join(body).strip()
        if text:
            sections.append((tuple(title for _, title in path), text))
        body.clear()

    for line in markdown.splitlines():
        match = _HEADING.match(line)
        if match:
            flush()
            level = len(match.group(1))
            path = [(lvl, title) for lvl, title in path if lvl < level]
            path.append((level, match.group(2).strip()))
        else:
            body.append(line)
    flush()
    return sections


def chunk_document(doc: SourceDocument, max_chars: int = MAX_CHUNK_CHARS) -> list[Chunk]:
    chunks: list[Chunk] = []
    seen_ids: set[str] = set()
    for path, body in split_sections(doc.text):
        section = SECTION_SEPARATOR.join(path) if path else doc.title
        for text in _pack(parse_blocks(body), max_chars):
            base = _digest(f"{doc.doc_id}\n{doc.title}\n{section}\n{text}")[:16]
            chunk_id, n = base, 1
            while chunk_id in seen_ids:  # the same text twice in one section
                n += 1
                chunk_id = f"{base}-{n}"
            seen_ids.add(chunk_id)
            first_sentence = first_quotable_sentence(text)
            chunks.append(
                Chunk(
                    chunk_id=chunk_id,
                    doc_id=doc.doc_id,
                    title=doc.title,
                    url=doc.url,
                    section=section,
                    text=text,
                    content_hash=_digest(f"{doc.title}\n{doc.url}\n{doc.date}\n{section}\n{text}"),
                    link=text_fragment_link(doc.url, first_sentence),
                    position=len(chunks),
                    date=doc.date,
                )
            )
    return chunks


def _pack(blocks: list[Block], max_chars: int) -> list[str]:
    """Greedily pack whole blocks into chunks; only an over-long paragraph is split, by sentence."""
    pieces: list[str] = []
    for block in blocks:
        rendered = block.render()
        if block.is_list or len(rendered) <= max_chars:
            pieces.append(rendered)  # a list is never cut, whatever its length
        else:
            pieces += _sentence_groups(split_sentences(rendered), max_chars)
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 2 + len(piece) > max_chars:
            chunks.append(current)
            current = piece
        else:
            current = f"{current}\n\n{piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks


def _sentence_groups(sentences: list[str], max_chars: int) -> list[str]:
    groups: list[str] = []
    current = ""
    for sentence in sentences:
        if current and len(current) + 1 + len(sentence) > max_chars:
            groups.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
    if current:
        groups.append(current)
    return groups


def first_quotable_sentence(markdown: str) -> str:
    for line in markdown.splitlines():
        match = _LIST_ITEM.match(line)
        text = (match.group(2) if match else line).strip()
        if text:
            return split_sentences(text)[0]
    return ""


def text_fragment_link(url: str, sentence: str) -> str:
    """A link that opens the page scrolled to, and highlighting, this sentence."""
    words = strip_markdown(sentence).split()
    if not url or not words:
        return url
    base = url.split("#", 1)[0]
    if len(words) <= 8:
        directive = _fragment_encode(" ".join(words))
    else:
        directive = f"{_fragment_encode(' '.join(words[:5]))},{_fragment_encode(' '.join(words[-4:]))}"
    return f"{base}#:~:text={directive}"


def strip_markdown(text: str) -> str:
    text = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", text, flags=re.MULTILINE)
    return re.sub(r"[*_`]+", "", text).strip()


def _fragment_encode(text: str) -> str:
    # In a text directive, '-', ',' and '&' are syntax, so they must be percent-encoded too.
    return quote(text, safe="").replace("-", "%2D")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
