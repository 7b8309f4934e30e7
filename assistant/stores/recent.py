"""Recent answers, for an hour: the link from an answer id to its redacted question, its redacted
text and its sources, so that a thumbs down (which names only the answer id) can keep the question
it was about, whichever worker process or machine it reaches.

Every row is redacted before it is written (`put` takes a `Redacted` question, never a string) and
deleted an hour after its answer (`purge`, run every minute by each server's records thread, takes
rows a minute before they are an hour old); `get` never returns an older one. A question outlives
its hour only if its answer gets a thumbs down, as a kept question (`kept.py`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assistant.stores.database import Database
from assistant.stores.redact import Redacted
from assistant.stores.storable import storable
from assistant.stores.tables import recent_answers

RECENT_SECONDS = 3600  # how long an answer can be given a thumbs down that keeps its question
PURGE_SECONDS = 60.0  # how often each server deletes what is older; rows go this much before the hour


@dataclass
class RecentAnswer:
    at: float
    status: str
    question: Redacted | None  # None when questions are not kept (ASSISTANT_KEEP_QUESTIONS=false)
    text: str  # the answer, redacted (a written answer may repeat what was asked)
    sources: list[str]
    kept_id: int | None = None  # its row in kept questions, once kept
    conversation: str | None = None  # digest of the chat's conversation id (stores/conversations.py)


class RecentAnswers:
    def __init__(self, db: Database, seconds: float = RECENT_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.seconds = seconds
        self.clock = clock

    def put_all(self, items: Iterable[tuple[str, RecentAnswer]], conn: Connection | None = None) -> None:
        """Write several at once (one transaction); an answer id already there is left as it is."""
        rows = [_values(answer_id, item) for answer_id, item in items]
        if not rows:
            return
        if conn is not None:
            self._insert(conn, rows)
            return
        with self.db.begin() as conn:
            self._insert(conn, rows)

    def put(self, answer_id: str, item: RecentAnswer) -> None:
        self.put_all([(answer_id, item)])

    def _insert(self, conn: Connection, rows: list[dict]) -> None:
        if self.db.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        conn.execute(insert(recent_answers).on_conflict_do_nothing(index_elements=["answer_id"]), rows)

    def get(self, answer_id: str) -> RecentAnswer | None:
        """The answer, unless it is older than the hour (or was never written)."""
        query = sa.select(recent_answers).where(
            recent_answers.c.answer_id == answer_id, recent_answers.c.created_at > self.clock() - self.seconds
        )
        with self.db.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _item(row) if row is not None else None

    def keep_once(self, answer_id: str, add: Callable[[Connection], int]) -> int | None:
        """Keep an answer's question once, whichever process asks first: `add` writes the kept row
        (in this transaction) and gives its id. None when it was kept already (or is gone)."""
        with self.db.begin() as conn:
            # A write first: it takes the row (PostgreSQL) or the file's write lock (SQLite), so a
            # second process asking at the same moment waits here, then finds it taken.
            claimed = conn.execute(
                sa.update(recent_answers)
                .where(recent_answers.c.answer_id == answer_id, recent_answers.c.kept_id.is_(None))
                .values(kept_id=0)
            ).rowcount
            if not claimed:
                return None
            kept_id = add(conn)
            conn.execute(
                sa.update(recent_answers).where(recent_answers.c.answer_id == answer_id).values(kept_id=kept_id)
            )
            return kept_id

    def purge(self, now: float | None = None) -> int:
        """Delete every row that is an hour old, or will be before the next purge."""
        cutoff = (now if now is not None else self.clock()) - (self.seconds - PURGE_SECONDS)
        with self.db.begin() as conn:
            return conn.execute(sa.delete(recent_answers).where(recent_answers.c.created_at <= cutoff)).rowcount

    def count(self) -> int:
        with self.db.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(recent_answers)).scalar_one()


def _values(answer_id: str, item: RecentAnswer) -> dict:
    if item.question is not None and not isinstance(item.question, Redacted):  # raw text never reaches the table
        raise TypeError("recent answers' questions must be redacted first (assistant.stores.redact.redact)")
    return {
        "answer_id": answer_id,
        "created_at": item.at,
        "status": item.status,
        "question": storable(item.question.text) if item.question is not None else None,
        "redacted": json.dumps(item.question.found, sort_keys=True) if item.question is not None else "{}",
        "answer_text": storable(item.text),
        "sources": json.dumps([storable(s) for s in item.sources], ensure_ascii=False),
        "kept_id": item.kept_id,
        "conversation": item.conversation,
    }


def _item(row) -> RecentAnswer:
    question = None
    if row["question"] is not None:
        question = Redacted(row["question"], json.loads(row["redacted"] or "{}"))
    return RecentAnswer(
        at=row["created_at"],
        status=row["status"],
        question=question,
        text=row["answer_text"],
        sources=json.loads(row["sources"] or "[]"),
        kept_id=row["kept_id"],
        conversation=row["conversation"],
    )
