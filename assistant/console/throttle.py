"""Password checks for the console, counted so that guessing is slow and nobody is locked out.

Every attempt (the login form, or HTTP Basic on `/api/admin/`) is *reserved* in the database before
its password is checked, in one transaction that holds a lock (the SQLite file's write lock, taken
by the transaction's first statement; an advisory lock in PostgreSQL): two attempts, in two threads
or two worker processes, never both see room for one more. The reservation counts as a failure
until the password proves right; then it is deleted, with that address's earlier failures.

The back-off, over the failures of the last 15 minutes:
- per address: `admin_login_attempts` wrong passwords are checked at once; after that each further
  try waits 10 s, then 20 s, 40 s... (at most 15 minutes) after that address's last one;
- per account: when ten times that many have failed from all addresses together (an attack from
  many addresses), every address may try only once before it waits, and the first wait doubles for
  each further ten times as many, so distributed guessing slows down too.
The first try from an address with no recent failure is always checked: failures from elsewhere
never lock the real editor out. A refused attempt is not checked at all and is answered 429 with
`Retry-After`.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa

from assistant.stores.database import Database
from assistant.stores.tables import login_failures

WINDOW = 15 * 60  # failures older than this are forgotten
FIRST_WAIT = 10  # seconds, once an address has used its tries; doubled for each further failure
MAX_WAIT = 15 * 60
ATTACK = 10  # this many times `attempts` failures from all addresses: the account is under attack
IN_FLIGHT_WAIT = 1  # the address's other attempts are being checked right now
STALE = 60  # seconds: a reservation this old was never finished (its process stopped)
PENDING = "?"  # a reserved attempt's client, while its password is checked
PG_LOCK_KEY = 7_240_311  # the advisory lock that serialises reservations (migrations use ...310)
NOTE_EVERY = 60  # seconds: at most one audit entry per address for its refused attempts


@dataclass(frozen=True)
class Attempt:
    """A reserved attempt (`row` set: check the password now) or a refused one (`wait` seconds)."""

    client: str
    row: int | None
    wait: int = 0


class LoginThrottle:
    def __init__(self, db: Database, attempts: int) -> None:
        self.db = db
        self.attempts = attempts
        self._noted: dict[str, float] = {}  # address -> when its last refusal was audited (this process)
        self._lock = threading.Lock()

    def reserve(self, client: str) -> Attempt:
        client = client[:63]
        now = time.time()
        with self.db.begin() as conn:
            if self.db.is_sqlite:
                # A write first: it takes the file's write lock, held until this transaction ends.
                conn.execute(sa.delete(login_failures).where(login_failures.c.at < now - WINDOW))
            else:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
                conn.execute(sa.delete(login_failures).where(login_failures.c.at < now - WINDOW))
            everyone = conn.execute(sa.select(sa.func.count()).select_from(login_failures)).scalar_one()
            mine = conn.execute(
                sa.select(login_failures.c.at, login_failures.c.client).where(
                    login_failures.c.client.in_((client, PENDING + client))
                )
            ).all()
            # A reservation older than a minute is a check that never finished: a failure.
            failures = [at for at, c in mine if c == client or at < now - STALE]
            wait = self._wait(now, everyone, failures, len(mine))
            if wait > 0:
                return Attempt(client, None, wait)
            row = conn.execute(
                sa.insert(login_failures).values(at=now, client=PENDING + client).returning(login_failures.c.id)
            ).scalar_one()
        return Attempt(client, row)

    def _wait(self, now: float, everyone: int, failures: list[float], mine: int) -> int:
        """Seconds this address must still wait (0: check its password now)."""
        level = everyone // (self.attempts * ATTACK)  # 0 normally; 1, 2... under attack
        allowed = self.attempts if level == 0 else 1
        if mine < allowed:
            return 0
        if len(failures) < allowed:  # its other attempts are still being checked
            return IN_FLIGHT_WAIT
        beyond = len(failures) - allowed + max(0, level - 1)
        wait = min(MAX_WAIT, FIRST_WAIT * 2 ** min(beyond, 20)) - (now - max(failures))
        return max(0, math.ceil(wait))

    def succeeded(self, attempt: Attempt) -> None:
        """The right password: the reservation and this address's failures are forgotten."""
        with self.db.begin() as conn:
            conn.execute(
                sa.delete(login_failures).where(
                    (login_failures.c.id == attempt.row) | (login_failures.c.client == attempt.client)
                )
            )

    def failed(self, attempt: Attempt) -> None:
        """A wrong password: the reservation becomes a failure of this address, timed now."""
        with self.db.begin() as conn:
            conn.execute(
                sa.update(login_failures)
                .where(login_failures.c.id == attempt.row)
                .values(client=attempt.client, at=time.time())
            )

    def worth_noting(self, client: str) -> bool:
        """Should this refusal go to the audit log? The first for an address each minute (per
        process), so that a flood of refused attempts cannot flood the log."""
        now = time.time()
        with self._lock:
            if len(self._noted) > 10_000:
                self._noted = {k: v for k, v in self._noted.items() if v > now - NOTE_EVERY}
            if self._noted.get(client, 0) > now - NOTE_EVERY:
                return False
            self._noted[client] = now
            return True
