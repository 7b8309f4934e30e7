"""Questions kept for the staff console: those the assistant declined, and those whose answer got
a thumbs down. Only ever written redacted (`add` takes a `Redacted`, never a plain string), and
deleted once older than the retention period (`ASSISTANT_KEEP_DAYS`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assistant.stores.database import Database
from assistant.stores.redact import Redacted
from assistant.stores.storable import storable
from assistant.stores.tables import feedback, kept_questions

DAY = 86400


@dataclass(frozen=True)
class KeptQuestion:
    id: int
    created_at: float
    kind: str  # "declined" or "thumbs_down"
    status: str
    reason: str | None
    text: str
    redacted: str
    embedder: str | None
    vector: np.ndarray | None
    conversation: str | None = None  # digest of the chat's conversation id; None: counts alone


class KeptQuestions:
    def __init__(self, db: Database, keep_days: int) -> None:
        self.db = db
        self.keep_days = keep_days

    def add(
        self,
        question: Redacted,
        kind: str,
        status: str,
        reason: str | None = None,
        embedder: str | None = None,
        vector=None,
        at: float | None = None,
        conn: Connection | None = None,
        conversation: str | None = None,
    ) -> int:
        """The new row's id; written in `conn`'s transaction when one is given."""
        if not isinstance(question, Redacted):  # the one guard that raw text never reaches the table
            raise TypeError("kept questions must be redacted first (assistant.stores.redact.redact)")
        row = {
            "created_at": at if at is not None else time.time(),
            "kind": kind,
            "status": status,
            "reason": reason,
            "text": storable(question.text),
            "redacted": ",".join(sorted(question.found)),
            "embedder": embedder,
            "vector": _blob(vector),
            "conversation": conversation,
        }
        if conn is not None:
            return conn.execute(sa.insert(kept_questions).values(**row)).inserted_primary_key[0]
        with self.db.begin() as conn:
            return conn.execute(sa.insert(kept_questions).values(**row)).inserted_primary_key[0]

    def since(self, days: float, now: float | None = None, limit: int = 5000) -> list[KeptQuestion]:
        """The newest first, at most `limit` (grouping them is bounded work)."""
        start = (now or time.time()) - days * DAY
        query = (
            sa.select(kept_questions)
            .where(kept_questions.c.created_at >= start)
            .order_by(kept_questions.c.created_at.desc())
            .limit(limit)
        )
        with self.db.connect() as conn:
            return [_row(r) for r in conn.execute(query).mappings()]

    def set_vectors(self, vectors: dict[int, np.ndarray], embedder: str) -> None:
        with self.db.begin() as conn:
            for row_id, vector in vectors.items():
                conn.execute(
                    sa.update(kept_questions)
                    .where(kept_questions.c.id == row_id)
                    .values(vector=_blob(vector), embedder=embedder)
                )

    def set_reason(self, row_id: int, reason: str) -> None:
        with self.db.begin() as conn:
            conn.execute(sa.update(kept_questions).where(kept_questions.c.id == row_id).values(reason=reason))

    def purge(self, now: float | None = None) -> int:
        """Delete what is older than the retention period: kept questions, and the answer text
        kept beside a thumbs down (the verdict and its reason stay: they hold nothing personal)."""
        cutoff = (now or time.time()) - self.keep_days * DAY
        with self.db.begin() as conn:
            removed = conn.execute(sa.delete(kept_questions).where(kept_questions.c.created_at < cutoff)).rowcount
            conn.execute(
                sa.update(feedback)
                .where(feedback.c.created_at < cutoff, feedback.c.answer_text.is_not(None))
                .values(answer_text=None, sources=None)
            )
        return removed

    def count(self) -> int:
        with self.db.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(kept_questions)).scalar_one()


def _blob(vector) -> bytes | None:
    if vector is None:
        return None
    return np.asarray(vector, dtype=np.float32).tobytes()


def _row(row) -> KeptQuestion:
    vector = np.frombuffer(row["vector"], dtype=np.float32) if row["vector"] else None
    return KeptQuestion(
        id=row["id"],
        created_at=row["created_at"],
        kind=row["kind"],
        status=row["status"],
        reason=row["reason"],
        text=row["text"],
        redacted=row["redacted"],
        embedder=row["embedder"],
        vector=vector,
        conversation=row["conversation"],
    )
