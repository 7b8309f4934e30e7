"""What was done in the staff console, by whom and when: "who" is how they came in (the console or
the API) and from which address; "what" is an action and the document or file it touched. Never
the text of a question."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from assistant.stores.database import Database
from assistant.stores.storable import storable
from assistant.stores.tables import audit_log

DAY = 86400


@dataclass(frozen=True)
class AuditEntry:
    at: float
    who: str
    action: str
    detail: str


class AuditLog:
    def __init__(self, db: Database, keep_days: int = 365) -> None:
        self.db = db
        self.keep_days = keep_days

    def write(self, who: str, action: str, detail: str = "") -> None:
        with self.db.begin() as conn:
            conn.execute(
                sa.insert(audit_log).values(
                    at=time.time(), who=storable(who[:200]), action=action[:64], detail=storable(detail)
                )
            )

    def recent(self, limit: int = 200) -> list[AuditEntry]:
        query = sa.select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
        with self.db.connect() as conn:
            return [AuditEntry(r["at"], r["who"], r["action"], r["detail"]) for r in conn.execute(query).mappings()]

    def purge(self, now: float | None = None) -> int:
        cutoff = (now or time.time()) - self.keep_days * DAY
        with self.db.begin() as conn:
            return conn.execute(sa.delete(audit_log).where(audit_log.c.at < cutoff)).rowcount
