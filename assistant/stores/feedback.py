"""Thumbs up/down on answers, in the database (`stores/`).

Stored: the answer id, the verdict, when, and after a thumbs down one reason from a fixed list,
with the answer's own text and sources (for the console's "answers most often marked unhelpful";
cleared after the retention period). Never the question: a question is kept only as the kept
questions store allows (`stores/kept.py`), redacted.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import sqlalchemy as sa

from assistant.stores.database import Database, DatabaseUnavailable
from assistant.stores.storable import storable
from assistant.stores.tables import feedback
from assistant.stores.write_errors import short_reason

# What a thumbs down may say, as the chat offers it: a fixed list, so nothing typed is ever stored.
REASONS = {
    "not_answered": "It did not answer my question",
    "wrong": "It seems wrong or out of date",
    "unclear": "It was hard to understand",
    "sources": "The sources did not help",
}
DAY = 86400


class FeedbackUnavailable(Exception):
    """Feedback cannot be saved (a read-only data folder, a full disk, a database that is down...)."""


@dataclass(frozen=True)
class Verdict:
    created_at: float
    helpful: bool
    reason: str | None
    answer_text: str | None
    sources: list[str]


class FeedbackStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.last_failure: str | None = None  # until a write succeeds again (shown in /healthz)

    def record(
        self,
        answer_id: str,
        helpful: bool,
        reason: str | None = None,
        answer_text: str | None = None,
        sources: list[str] | None = None,
    ) -> bool:
        """A verdict; a reason given after a thumbs down completes that verdict's row rather than
        counting the thumbs down twice. True when a new verdict was stored."""
        if reason is not None and reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        try:
            with self.db.begin() as conn:
                if reason and not helpful:
                    latest = conn.execute(
                        sa.select(sa.func.max(feedback.c.id)).where(
                            feedback.c.answer_id == answer_id, feedback.c.helpful.is_(False)
                        )
                    ).scalar()
                    if latest is not None:
                        conn.execute(sa.update(feedback).where(feedback.c.id == latest).values(reason=reason))
                        self.last_failure = None
                        return False
                conn.execute(
                    sa.insert(feedback).values(
                        answer_id=answer_id,
                        helpful=bool(helpful),
                        created_at=time.time(),
                        reason=reason,
                        answer_text=None if helpful else storable(answer_text),
                        sources=None
                        if helpful or sources is None
                        else json.dumps([storable(s) for s in sources], ensure_ascii=False),
                    )
                )
                stored = True
        except (sa.exc.SQLAlchemyError, DatabaseUnavailable, OSError) as err:
            self.last_failure = f"the last feedback could not be saved ({short_reason(err)})"
            raise FeedbackUnavailable(f"Feedback cannot be saved in {self.db.safe_url} ({err}).") from err
        self.last_failure = None
        return stored

    def writable(self) -> tuple[bool, str]:
        """Can feedback be saved? Checked without writing a row (for the health check); a write that
        failed (a full disk passes the check below) says no until one succeeds again."""
        if self.last_failure:
            return False, self.last_failure
        try:
            self.db.migrate()
            if self.db.is_sqlite:
                raw = self.db.engine.raw_connection()
                try:
                    raw.execute("BEGIN IMMEDIATE")  # takes the write lock: fails on a read-only file
                    raw.rollback()
                finally:
                    raw.close()
            else:
                with self.db.engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
            return True, "ok"
        except Exception as err:  # any failure means "cannot save now"; the detail names its kind only
            return False, f"cannot be written ({type(err).__name__})"

    def all(self) -> list[tuple[str, bool]]:
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(feedback.c.answer_id, feedback.c.helpful).order_by(feedback.c.id))
            return [(a, bool(h)) for a, h in rows]

    def reasons(self) -> list[tuple[str, str | None]]:
        query = sa.select(feedback.c.answer_id, feedback.c.reason).where(feedback.c.helpful.is_(False))
        with self.db.connect() as conn:
            return [tuple(r) for r in conn.execute(query.order_by(feedback.c.id))]

    def since(self, days: float, now: float | None = None) -> list[Verdict]:
        start = (now or time.time()) - days * DAY
        query = sa.select(feedback).where(feedback.c.created_at >= start).order_by(feedback.c.id)
        with self.db.connect() as conn:
            return [
                Verdict(
                    r["created_at"],
                    bool(r["helpful"]),
                    r["reason"],
                    r["answer_text"],
                    json.loads(r["sources"]) if r["sources"] else [],
                )
                for r in conn.execute(query).mappings()
            ]
