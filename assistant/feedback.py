"""Thumbs up/down on answers, kept in SQLite in the data folder.

Only the answer id, the verdict and, after a thumbs down, one reason from a fixed list are stored:
never the question, which may hold personal data.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

# What a thumbs down may say, as the chat offers it: a fixed list, so nothing typed is ever stored.
REASONS = {
    "not_answered": "It did not answer my question",
    "wrong": "It seems wrong or out of date",
    "unclear": "It was hard to understand",
    "sources": "The sources did not help",
}


class FeedbackUnavailable(Exception):
    """The feedback file cannot be written (a read-only data folder, a full disk...)."""


class FeedbackStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=5)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS feedback (answer_id TEXT NOT NULL, helpful INTEGER NOT NULL, created_at REAL NOT NULL)"
        )
        columns = [row[1] for row in conn.execute("PRAGMA table_info(feedback)")]
        if "reason" not in columns:  # a store from before reasons: add the column, keep every row
            conn.execute("ALTER TABLE feedback ADD COLUMN reason TEXT")
        return conn

    def record(self, answer_id: str, helpful: bool, reason: str | None = None) -> None:
        """A verdict; a reason given after a thumbs down completes that verdict's row rather
        than counting the thumbs down twice. Raises FeedbackUnavailable when it cannot be saved."""
        if reason is not None and reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        try:
            with self._connect() as conn:
                if reason and not helpful:
                    updated = conn.execute(
                        "UPDATE feedback SET reason = ? WHERE rowid = (SELECT max(rowid) FROM feedback"
                        " WHERE answer_id = ? AND helpful = 0)",
                        (reason, answer_id),
                    ).rowcount
                    if updated:
                        return
                conn.execute(
                    "INSERT INTO feedback (answer_id, helpful, created_at, reason) VALUES (?, ?, ?, ?)",
                    (answer_id, int(helpful), time.time(), reason),
                )
        except (sqlite3.Error, OSError) as err:
            raise FeedbackUnavailable(f"Feedback cannot be saved in {self.path} ({err}).") from err

    def writable(self) -> tuple[bool, str]:
        """Can feedback be saved? Checked without writing a row (for the health check)."""
        try:
            with self._connect() as conn:
                conn.execute("BEGIN IMMEDIATE")  # takes the write lock: fails on a read-only file
                conn.rollback()
            return True, "ok"
        except (sqlite3.Error, OSError) as err:
            return False, f"cannot be written ({type(err).__name__})"

    def all(self) -> list[tuple[str, bool]]:
        with self._connect() as conn:
            return [(a, bool(h)) for a, h in conn.execute("SELECT answer_id, helpful FROM feedback ORDER BY rowid")]

    def reasons(self) -> list[tuple[str, str | None]]:
        with self._connect() as conn:
            return list(conn.execute("SELECT answer_id, reason FROM feedback WHERE helpful = 0 ORDER BY rowid"))
