"""The reader's examples: each frozen question with the quotable units of its own document, and
which of them answer it.

Units are cut exactly as the assistant cuts them (chunking, then `units_of`), and a unit answers
a question when it holds one of the question's `sources` (verbatim text of the document). The
text a unit is trained on is the text the assistant embeds (`Unit.embed_text`), so the model
learns the vectors it will be asked for.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from assistant.corpus.chunking import chunk_document, strip_markdown
from assistant.corpus.documents import load_document
from assistant.corpus.units import units_of

DATA = Path(__file__).resolve().parents[1] / "reader-data"
SPLITS = ("train", "dev", "test")


@dataclass
class Example:
    id: str
    doc: str
    kind: str
    query: str  # what is encoded: the question, after its earlier turn for a follow-up
    asked: str  # the question as asked, on its own
    answerable: bool
    positives: set[int] = field(default_factory=set)  # indices into Split.units
    facts: list[list[str]] = field(default_factory=list)


@dataclass
class Split:
    name: str
    units: list[str]  # embed texts, unique within each document
    unit_doc: list[str]
    unit_plain: list[str]  # normalised plain text, to find labels and facts in
    examples: list[Example]
    unlabelled: int  # answerable questions none of whose sources could be found in a unit

    def doc_units(self, doc: str) -> list[int]:
        return [i for i, d in enumerate(self.unit_doc) if d == doc]


def normal(text: str) -> str:
    text = strip_markdown(text).lower().replace("\u2019", "'").replace("\u2018", "'")
    text = text.replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip()


def load_split(name: str, root: Path = DATA) -> Split:
    units, unit_doc, plain = [], [], []
    by_doc: dict[str, list[int]] = {}
    for path in sorted((root / name / "docs").glob("*.md")):
        doc, _ = load_document(path, path.name)
        seen: set[str] = set()
        for chunk in chunk_document(doc):
            for unit in units_of(chunk, 0):
                if unit.embed_text in seen:
                    continue
                seen.add(unit.embed_text)
                by_doc.setdefault(path.stem, []).append(len(units))
                units.append(unit.embed_text)
                unit_doc.append(path.stem)
                plain.append(normal(unit.evidence))
    examples, unlabelled = [], 0
    for line in (root / name / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        history = q.get("history") or []
        query = f"{history[-1]} {q['question']}" if history and q["kind"] == "followup" else q["question"]
        example = Example(q["id"], q["doc"], q["kind"], query, q["question"], q["answerable"], facts=q["facts"])
        if q["answerable"]:
            wanted = [normal(s) for s in q["sources"]]
            example.positives = {i for i in by_doc.get(q["doc"], []) if any(w in plain[i] for w in wanted)}
            if not example.positives:
                unlabelled += 1
                continue
        examples.append(example)
    return Split(name, units, unit_doc, plain, examples, unlabelled)


def data_sha256(root: Path = DATA, splits: tuple[str, ...] = SPLITS) -> str:
    """One hash over every document and question file of the splits, by path and content."""
    digest = hashlib.sha256()
    for split in splits:
        for path in sorted([*(root / split / "docs").glob("*.md"), root / split / "questions.jsonl"]):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
