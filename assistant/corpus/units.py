"""Quotable units of a passage: its sentences, and each list together with the sentence that
introduces it. The composer quotes units; the index keeps a vector of each (see unit_vectors.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from assistant.corpus.chunking import Block, Chunk, parse_blocks, split_sentences, strip_markdown
from assistant.text import term_set

# A sentence whose first words point back ("In 2021/22 this totals...") needs the one before it.
LEANS_BACK = re.compile(r"^(\S+\s+){0,3}(this|it|they|these|its|their)\b", re.IGNORECASE)


@dataclass
class Unit:
    """A sentence, or a sentence that introduces a list together with the list."""

    text: str
    chunk: Chunk
    rank: int  # of the passage it comes from
    order: int  # position within the passage
    paragraph: int  # which block of the passage
    items: list = field(default_factory=list)  # list items: str, or (str, [children])
    heading: bool = False  # the text is the section heading that introduces the list
    context: str = ""  # the sentence before, when this one leans on it ("In 2021/22 this totals...")
    item_of: int = -1  # for an item of a list, the paragraph of the list (with its intro)

    @property
    def full_text(self) -> str:
        parts = [self.text]
        for item in self.items:
            if isinstance(item, tuple):
                parts += [item[0], *item[1]]
            else:
                parts.append(item)
        return " ".join(parts)

    def words(self) -> int:
        return len(strip_markdown(self.full_text).split())

    @property
    def heading_text(self) -> str:
        return self.chunk.section.split(" > ")[-1]

    @property
    def embed_text(self) -> str:
        """What the unit's vector is made from: its heading says what a bare "It is..." is about."""
        return strip_markdown(f"{self.heading_text}. {self.evidence}")

    @property
    def evidence(self) -> str:
        """What the unit says, with what its pronouns point back to."""
        return f"{self.context} {self.full_text}" if self.context else self.full_text

    # Stemmed words, computed once: scoring and the topic checks ask for them many times.
    @cached_property
    def text_terms(self) -> frozenset[str]:
        return term_set(self.text)

    @cached_property
    def full_terms(self) -> frozenset[str]:
        return term_set(self.full_text)

    @cached_property
    def context_terms(self) -> frozenset[str]:
        return term_set(self.context)

    @cached_property
    def heading_terms(self) -> frozenset[str]:
        """The words of the passage's own heading: the subject a sentence under it speaks of."""
        return term_set(self.chunk.section.split(" > ")[-1])

    def render(self, marker: str) -> str:
        if not self.items:
            return f"{self.text} {marker}"
        lines = [f"**{self.text}** {marker}" if self.heading else f"{self.text} {marker}"]
        for item in self.items:
            if isinstance(item, tuple):
                lines.append(f"- {item[0]}")
                lines += [f"  - {child}" for child in item[1]]
            else:
                lines.append(f"- {item}")
        return "\n".join(lines)


def units_of(chunk: Chunk, rank: int) -> list[Unit]:
    units: list[Unit] = []

    def add(text: str, paragraph: int, items=None, heading: bool = False, item_of: int = -1) -> None:
        previous = units[-1] if units and units[-1].paragraph == paragraph else None
        context = previous.text if previous and LEANS_BACK.search(text) else ""
        units.append(Unit(text, chunk, rank, len(units), paragraph, items or [], heading, context, item_of))

    heading = chunk.section.split(" > ")[-1]
    for b, block in enumerate(parse_blocks(chunk.text)):
        intro = split_sentences(block.intro) if block.intro else []
        if block.is_list and not intro and b == 0 and heading != chunk.title:
            add(heading, b, _items(block), heading=True)  # "Checklist for submitting an ITT" + its list
        if block.is_list and intro:
            for sentence in intro[:-1]:
                add(sentence, b)
            add(intro[-1], b, _items(block))
        else:
            for sentence in intro:
                add(sentence, b)
        if block.is_list:
            # Each item is quotable on its own too (a glossary list has no intro at all).
            for i, item in enumerate(block.items):
                sentences = split_sentences(item.text)
                paragraph = 1000 * (b + 1) + i  # an item is a paragraph of its own
                for sentence in sentences[:-1]:
                    add(sentence, paragraph, item_of=b)
                add(sentences[-1], paragraph, list(item.children), item_of=b)
    return units


def _items(block: Block) -> list:
    return [(item.text, list(item.children)) if item.children else item.text for item in block.items]
