"""The console's ingest jobs (`ingest_jobs`): each change's progress, outcome and message, and who is
running it, so that a job whose server stopped half-way is found and closed rather than shown as
"running" for ever.

A job names its owner (`host|pid|process start time`) and, while it runs, its owner writes a
heartbeat every HEARTBEAT_SECONDS. A job is its owner's to finish while the owner lives: on the
same machine that is known for sure (the process is there, or not); from another machine it is
judged by the heartbeat (none for LEASE_SECONDS: gone). Several worker processes and machines share
one database, so nothing else is ever taken for dead.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa

from assistant.stores.database import Database
from assistant.stores.tables import ingest_jobs

HEARTBEAT_SECONDS = 30.0
LEASE_SECONDS = 300.0  # a job from another machine with no heartbeat for this long: its server is gone
MAX_ID = 2**31 - 1  # the column is a 32-bit integer in PostgreSQL


@dataclass(frozen=True)
class Job:
    id: int
    action: str
    name: str
    state: str  # running, done, failed
    done: int
    total: int
    message: str
    created_at: float
    finished_at: float | None
    owner: str | None = None
    heartbeat_at: float | None = None

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "action": self.action,
            "name": self.name,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "message": self.message,
        }


def this_process() -> str:
    return f"{socket.gethostname()}|{os.getpid()}|{_started(os.getpid())}"


def owner_is_gone(job: Job, now: float | None = None) -> bool:
    """Has the process running this job stopped? Sure on this machine; by its heartbeat elsewhere."""
    now = now or time.time()
    host, pid, started = _parts(job.owner)
    if host == socket.gethostname() and pid is not None:
        return _started(pid) != started  # gone, or its number reused by another process
    return now - (job.heartbeat_at or job.created_at) > LEASE_SECONDS


def is_here(job: Job) -> bool:
    """Was the job run on this machine (its backup, if any, is in this data folder)?"""
    return _parts(job.owner)[0] == socket.gethostname()


class Jobs:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.owner = this_process()

    def new(self, action: str, name: str) -> int:
        now = time.time()
        with self.db.begin() as conn:
            return conn.execute(
                sa.insert(ingest_jobs).values(
                    created_at=now,
                    action=action,
                    name=name,
                    state="running",
                    done=0,
                    total=0,
                    message="Indexing...",
                    owner=self.owner,
                    heartbeat_at=now,
                )
            ).inserted_primary_key[0]

    def update(self, job_id: int, state: str | None = None, message: str | None = None, finished=False, **counts):
        values = dict(counts, heartbeat_at=time.time())
        if state:
            values["state"] = state
        if message is not None:
            values["message"] = message
        if finished:
            values["finished_at"] = time.time()
        with self.db.begin() as conn:
            conn.execute(sa.update(ingest_jobs).where(ingest_jobs.c.id == job_id).values(**values))

    def get(self, job_id: int) -> Job | None:
        if not 1 <= job_id <= MAX_ID:
            return None
        with self.db.connect() as conn:
            row = conn.execute(sa.select(ingest_jobs).where(ingest_jobs.c.id == job_id)).mappings().first()
        return _job(row) if row else None

    def latest(self) -> Job | None:
        with self.db.connect() as conn:
            row = conn.execute(sa.select(ingest_jobs).order_by(ingest_jobs.c.id.desc()).limit(1)).mappings().first()
        return _job(row) if row else None

    def running(self) -> list[Job]:
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(ingest_jobs).where(ingest_jobs.c.state == "running")).mappings().all()
        return [_job(r) for r in rows]

    def close_if_running(self, job_id: int, state: str, message: str) -> bool:
        """Close a job once, whoever tries (another process may be closing it too)."""
        with self.db.begin() as conn:
            return bool(
                conn.execute(
                    sa.update(ingest_jobs)
                    .where(ingest_jobs.c.id == job_id, ingest_jobs.c.state == "running")
                    .values(state=state, message=message, finished_at=time.time())
                ).rowcount
            )

    def heartbeat(self, job_id: int) -> threading.Event:
        """Beat for a running job until the returned event is set."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(HEARTBEAT_SECONDS):
                try:
                    with self.db.begin() as conn:
                        conn.execute(
                            sa.update(ingest_jobs).where(ingest_jobs.c.id == job_id).values(heartbeat_at=time.time())
                        )
                except Exception:  # a database that is down: the next beat tries again
                    pass

        threading.Thread(target=beat, name="job-heartbeat", daemon=True).start()
        return stop


def _parts(owner: str | None) -> tuple[str | None, int | None, str | None]:
    try:
        host, pid, started = (owner or "").split("|")
        return host, int(pid), started
    except ValueError:
        return None, None, None


def _started(pid: int) -> str:
    """The process's start time (clock ticks after boot), '' when there is no such process: with its
    number it names one process, even after the number is reused."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
            return "alive"
        except ProcessLookupError:
            return ""
        except PermissionError:
            return "alive"


def _job(row) -> Job:
    return Job(
        row["id"], row["action"], row["name"], row["state"], row["done"], row["total"], row["message"],
        row["created_at"], row["finished_at"], row.get("owner"), row.get("heartbeat_at"),
    )  # fmt: skip
