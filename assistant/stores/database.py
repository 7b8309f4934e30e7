"""The one database: an SQLAlchemy engine for the configured URL, brought up to date on first open.

`ASSISTANT_DATABASE_URL` names it (`postgresql+psycopg://user:password@host/db`); without it,
SQLite in the data folder. Alembic's migrations (`migrations/versions/`) run when a process first
opens it, under a lock (a file lock beside the SQLite file, an advisory lock in PostgreSQL), so
several worker processes starting together migrate it once. A migration only adds: no row is lost.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from assistant.stores import tables

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_FILE = "feedback.sqlite3"  # where feedback always lived: an old store is adopted in place
PG_LOCK_KEY = 7_240_310  # any constant: the advisory lock that serialises migrations


class DatabaseUnavailable(Exception):
    """The database cannot be opened, migrated or written; the message says which and why."""


def database_url(data_dir: Path, url: str | None) -> str:
    return url or f"sqlite:///{(data_dir / SQLITE_FILE).as_posix()}"


class Database:
    """An engine, migrated. Thread-safe; one per process and URL (`open_database`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict = {"future": True}
        if self.is_sqlite:
            path = Path(sa.engine.make_url(url).database or "")
            if str(path) not in ("", ":memory:"):
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as err:  # said when it is first used, not at start: answering goes on
                    log.warning("The folder of the database %s cannot be made (%s)", path, err)
            self.path = path
            kwargs["connect_args"] = {"timeout": 10, "check_same_thread": False}
        else:
            self.path = None
            kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=5)
        self.engine: Engine = sa.create_engine(url, **kwargs)
        if self.is_sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            sa.event.listen(self.engine, "handle_error", _drop_broken_sqlite_connection)
        self.tables = tables
        self._migrated = False
        self._lock = threading.Lock()

    def migrate(self) -> None:
        """Bring the schema to the newest revision (once per process)."""
        if self._migrated:
            return
        with self._lock:
            if self._migrated:
                return
            try:
                self._migrate()
            except DatabaseUnavailable:
                raise
            except Exception as err:
                raise DatabaseUnavailable(f"The database at {self.safe_url} cannot be brought up to date ({err}).") from err
            self._migrated = True

    def _migrate(self) -> None:
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        head = ScriptDirectory.from_config(config).get_current_head()
        with self.engine.connect() as conn:
            if MigrationContext.configure(conn).get_current_revision() == head:
                return  # the usual case: nothing to do, no lock taken
        if self.is_sqlite:
            from filelock import FileLock

            with FileLock(str(self.path) + ".migrate.lock", timeout=120), self.engine.begin() as conn:
                self._upgrade(command, config, conn)
        else:
            with self.engine.begin() as conn:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
                self._upgrade(command, config, conn)

    @staticmethod
    def _upgrade(command, config, conn) -> None:
        config.attributes["connection"] = conn
        log.info("Bringing the database up to date")
        command.upgrade(config, "head")

    def begin(self):
        """A transaction (`with db.begin() as conn:`), on a migrated database."""
        self.migrate()
        return self.engine.begin()

    def connect(self):
        self.migrate()
        return self.engine.connect()

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden: for messages and logs."""
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL: readers never wait for the writer, so several worker processes share the file well.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # A deleted row (a recent answer after its hour, a kept question after its days) is overwritten
    # with zeros in the file, not left in a free page.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _drop_broken_sqlite_connection(context) -> None:
    """A write that failed on a full or failing disk can leave its SQLite connection inside an
    unfinished transaction, still holding the file's write lock: every later write would wait for
    it. Such a connection is closed (and the pool refreshed), never handed out again."""
    text = str(getattr(context, "original_exception", "")).lower()
    if any(w in text for w in ("database or disk is full", "disk i/o error", "readonly database")):
        context.is_disconnect = True


@lru_cache(maxsize=8)
def open_database(url: str) -> Database:
    """The process's one `Database` for a URL (engines pool their connections)."""
    return Database(url)
