"""The jargon glossary: expands acronyms and old names in a question before searching."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from assistant.text import normalise


@dataclass(frozen=True)
class GlossaryEntry:
    term: str
    expands_to: str
    section: str
    quote: str
    aliases: tuple[str, ...] = ()


@dataclass
class Glossary:
    document: str = ""
    entries: list[GlossaryEntry] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Glossary:
        if not path.is_file():
            return cls()
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entries = [
            GlossaryEntry(
                term=str(item["term"]),
                expands_to=str(item["expands_to"]),
                section=str(item.get("section", "")),
                quote=str(item.get("quote", "")),
                aliases=tuple(str(a) for a in item.get("aliases", [])),
            )
            for item in data.get("terms", [])
        ]
        return cls(document=str(data.get("document", "")), entries=entries)

    def matches(self, question: str) -> list[GlossaryEntry]:
        """Entries whose term or an alias appears in the question as a whole word."""
        text = normalise(question).lower()
        found = []
        for entry in self.entries:
            for name in (entry.term, *entry.aliases):
                if _mentions(text, name.lower()):
                    found.append(entry)
                    break
        return found

    def expand(self, question: str) -> str:
        """The question plus the spelt-out form of each term it mentions."""
        extra = [e.expands_to for e in self.matches(question) if e.expands_to.lower() not in question.lower()]
        return " ".join([question, *extra])

    def spell_out(self, question: str, known=lambda name: False) -> str:
        """The question with each term it mentions replaced by its spelt-out form, except names
        the guidance itself uses (`known`), which can be checked for as they are."""
        text = normalise(question)
        for entry in self.matches(text):
            for name in sorted((entry.term, *entry.aliases), key=len, reverse=True):
                if known(name):
                    continue
                text = re.sub(rf"(?<![\w+]){re.escape(name)}(?![\w+])", entry.expands_to, text, flags=re.IGNORECASE)
        return text


def _mentions(text: str, name: str) -> bool:
    # \b does not work after '+', so spell the word boundaries out.
    return re.search(rf"(?<![\w+]){re.escape(name)}(?![\w+])", text) is not None
