"""Thumbs up/down on answers, kept in SQLite in the data folder.

Only the answer id and the verdict are stored: never the question, which may hold personal data.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


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
        with self._connect() as conn:
            conn.execute("INSERT INTO feedback VALUES (?, ?, ?)", (answer_id, int(helpful), time.time()))

    def all(self) -> list[tuple[str, bool]]:
        with self._connect() as conn:
            return [(a, bool(h)) for a, h in conn.execute("SELECT answer_id, helpful FROM feedback ORDER BY rowid")]
