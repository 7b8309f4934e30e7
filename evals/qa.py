"""The Q&A file: JSON Lines, one question per line; a malformed line is an error naming it.

Also the dev/test split: fixed by each question's id, so it never moves between runs or machines.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path


class QAFormatError(Exception):
    pass


@dataclass(frozen=True)
class QAItem:
    id: str
    topic: str
    question: str
    answerable: bool
    facts: list[list[str]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    history: list[str] = field(default_factory=list)


SPLITS = ("dev", "test")


def split_of(item_id: str) -> str:
    """'dev' when the sha256 of the id is even, else 'test'. Tune on dev; test is only reported."""
    return "dev" if hashlib.sha256(item_id.encode("utf-8")).digest()[-1] % 2 == 0 else "test"


def load_qa(path: Path) -> list[QAItem]:
    items, seen = [], set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            raise QAFormatError(f"{path.name} line {n}: not valid JSON ({err.msg})") from None
        items.append(_item(data, f"{path.name} line {n}", seen))
    if not items:
        raise QAFormatError(f"{path.name}: no questions")
    return items


def _item(data, where: str, seen: set) -> QAItem:
    if not isinstance(data, dict):
        raise QAFormatError(f"{where}: expected a JSON object")
    for key, kind in (("id", str), ("topic", str), ("question", str), ("answerable", bool)):
        if not isinstance(data.get(key), kind):
            raise QAFormatError(f"{where}: '{key}' is missing or not a {kind.__name__}")
    if data["id"] in seen:
        raise QAFormatError(f"{where}: duplicate id '{data['id']}'")
    seen.add(data["id"])
    facts, sources, history = data.get("facts", []), data.get("sources", []), data.get("history", [])
    if not (
        isinstance(facts, list) and all(isinstance(f, list) and f and all(isinstance(a, str) for a in f) for f in facts)
    ):
        raise QAFormatError(f"{where}: 'facts' must be a list of non-empty lists of strings")
    if not (isinstance(sources, list) and all(isinstance(s, str) for s in sources)):
        raise QAFormatError(f"{where}: 'sources' must be a list of strings")
    if not (isinstance(history, list) and all(isinstance(h, str) for h in history)):
        raise QAFormatError(f"{where}: 'history' must be a list of strings")
    if data["answerable"] and not (facts and sources):
        raise QAFormatError(f"{where}: an answerable question needs 'facts' and 'sources'")
    if not data["answerable"] and (facts or sources):
        raise QAFormatError(f"{where}: an unanswerable question must have empty 'facts' and 'sources'")
    return QAItem(data["id"], data["topic"], data["question"], data["answerable"], facts, sources, history)
