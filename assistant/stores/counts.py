"""How many questions were answered and declined, per ISO week: counts only, never text. Each
process adds its counts in batches (`add` with several at once), so counting costs no write per
question."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from assistant.stores.database import Database
from assistant.stores.tables import answer_counts

OUTCOMES = ("answered", "declined")


def week_of(timestamp: float) -> str:
    """The Monday (ISO week start) of the week a time falls in, as YYYY-MM-DD (UTC)."""
    day = dt.datetime.fromtimestamp(timestamp, dt.UTC).date()
    return (day - dt.timedelta(days=day.weekday())).isoformat()


class AnswerCounts:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, counts: dict[tuple[str, str], int]) -> None:
        """Add {(week, outcome): n} to the stored counts (an upsert: safe from several processes)."""
        if not counts:
            return
        if self.db.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        with self.db.begin() as conn:
            for (week, outcome), n in sorted(counts.items()):
                statement = insert(answer_counts).values(week=week, outcome=outcome, count=n)
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=["week", "outcome"], set_={"count": answer_counts.c.count + n}
                    )
                )

    def weekly(self, since_week: str = "") -> dict[str, dict[str, int]]:
        """{week: {outcome: n}} from `since_week` on, oldest first."""
        query = sa.select(answer_counts).where(answer_counts.c.week >= since_week).order_by(answer_counts.c.week)
        out: dict[str, dict[str, int]] = {}
        with self.db.connect() as conn:
            for row in conn.execute(query).mappings():
                out.setdefault(row["week"], {})[row["outcome"]] = row["count"]
        return out
