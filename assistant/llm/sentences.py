"""The model's reply, cut into sentences with the passage numbers each one cites.

The reply arrives in pieces (a streamed answer) or whole; `SentenceStream` takes pieces and hands
out each sentence once it is complete, so a sentence can be checked, and shown, while the next one
is still being written. A sentence ends at a line break, or where its full stop or its citation
markers are followed by a space and a capital (or digit, quote or bracket). Markers are `[2]`,
`[1][3]` or `[1, 3]`; "[passage 2]" is taken as well, anything else counts as no citation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_MARKERS = r"\[\s*(?:passage|source)?\s*\d+(?:\s*[,;]\s*(?:passage|source)?\s*\d+)*\s*\]"
MARKER = re.compile(_MARKERS, re.IGNORECASE)
_NUMBER = re.compile(r"\d+")
# Where a sentence ends: its punctuation (then any markers), or its markers (then any punctuation),
# followed by a space and what starts a sentence. The end of the text is handled by `close`.
_END = re.compile(
    rf"(?:[.!?][\"'’”)\]]*(?:\s*{_MARKERS})*|(?:\s*{_MARKERS})+[.!?]?)(?=\s+[A-Z0-9\"'‘“(£*])",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*([-*•]|\d+[.)])\s+")
NOT_COVERED = re.compile(r"^\W*not[\s_-]*covered\W*$", re.IGNORECASE)


@dataclass
class Sentence:
    raw: str  # as the model wrote it
    body: str  # without markers, bullet or bold: what is checked
    cited: list[int] = field(default_factory=list)  # passage numbers, as the model numbered them
    new_line: bool = False  # starts a new line (a list item, a new paragraph)
    bullet: bool = False

    @property
    def not_covered(self) -> bool:
        return NOT_COVERED.match(self.raw) is not None


def parse(raw: str, new_line: bool = False) -> Sentence:
    text = raw.strip()
    bullet = _BULLET.match(text)
    if bullet:
        text = text[bullet.end() :]
    cited: list[int] = []
    for group in MARKER.findall(text):
        for n in _NUMBER.findall(group):
            if int(n) not in cited:
                cited.append(int(n))
    body = MARKER.sub("", text)
    body = re.sub(r"\*\*|__|`", "", body)
    body = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(body.split()))
    return Sentence(raw.strip(), body.strip(), cited, new_line, bullet is not None)


class SentenceStream:
    """Pieces of text in, complete sentences out."""

    def __init__(self) -> None:
        self.buffer = ""
        self._new_line = False  # the next sentence starts on a new line

    def feed(self, piece: str) -> list[Sentence]:
        self.buffer += piece
        out = []
        while True:
            cut = self._next_cut()
            if cut is None:
                return out
            end, resume, line_break = cut
            raw = self.buffer[:end]
            self.buffer = self.buffer[resume:]
            if raw.strip():
                out.append(parse(raw, self._new_line))
                self._new_line = False
            if line_break:
                self._new_line = True

    def close(self) -> list[Sentence]:
        """Whatever is left when the reply ends is its last sentence."""
        raw, self.buffer = self.buffer, ""
        return [parse(raw, self._new_line)] if raw.strip() else []

    def _next_cut(self) -> tuple[int, int, bool] | None:
        """(end of the sentence, where the next one starts, whether a line break is between)."""
        newline = self.buffer.find("\n")
        match = _END.search(self.buffer)
        if match and (newline < 0 or match.end() <= newline):
            # Only once what follows has arrived: "[1]" may still be followed by "[2]".
            rest = self.buffer[match.end() :]
            if rest.strip():
                return match.end(), match.end() + (len(rest) - len(rest.lstrip(" \t"))), False
        if newline >= 0:
            return newline, newline + 1, True
        return None
