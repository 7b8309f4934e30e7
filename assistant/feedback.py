"""Thumbs up/down on answers, kept in SQLite in the data folder.

Only the answer id and the verdict are stored: never the question, which may hold personal data.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


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
        return conn

    def record(self, answer_id: str, helpful: bool) -> None:
        try:
            with self._connect() as conn:
                conn.execute("INSERT INTO feedback VALUES (?, ?, ?)", (answer_id, int(helpful), time.time()))
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
