"""One index for several app processes on several machines: each ingest's result is published to the
records database, and every process follows it.

Used when a Chroma server (`ASSISTANT_CHROMA_HOST`) and a database (`ASSISTANT_DATABASE_URL`) are
both configured. The passage vectors already live in the Chroma server; what each process also
needs is the rest of an index version: its snapshot (`manifest.json`, the chunks and their
version), the sentence vectors (`units.npz`), and the corpus files it was built from (the
documents, `assistant.yaml`, `glossary.yaml`), so that the next change, made on any machine,
starts from the same guidance.

- `publish()` after an ingest: the files as they are now become the newest version. Files are
  stored once by content (SHA-256, zlib-compressed), so a version that changes one document adds
  one document; the last `KEEP_VERSIONS` versions are kept.
- `pull()`: make this machine's corpus folder and index folder the newest version, writing only
  the files that differ, the snapshot last (its atomic replacement is what `Service` watches).
- `lock()`: one change at a time across every machine (a PostgreSQL advisory lock, released by
  the server if the process dies; a file lock beside an SQLite database).

A machine's corpus folder is a working copy: a pull replaces what is in it. Change the guidance
through the console (it pulls first, under the lock), or run `assistant ingest` on one machine only:
it publishes its folder as it is.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from assistant.files import sha256_file, write_atomically
from assistant.stores.database import Database, DatabaseUnavailable
from assistant.stores.tables import index_versions, shared_files

log = logging.getLogger(__name__)

KEEP_VERSIONS = 5  # older versions (and files only they used) are deleted at each publish
PG_LOCK_KEY = 7_240_311  # any constant other than the migrations' lock
LOCK_WAIT_SECONDS = 1800  # an ingest at 100x the corpus takes minutes; a waiting one waits
INDEX_FILES = ("units.npz", "manifest.json")  # in the order a pull writes them: the snapshot last
VERSION_FILE = "shared-version.txt"  # the version this machine's folders hold


class SharedIndexError(Exception):
    """The shared index cannot be read or written; the message says why."""


@contextlib.contextmanager
def _database_errors(db: Database) -> Iterator[None]:
    """A database that cannot be reached or written is one plain error, naming it without its password."""
    try:
        yield
    except (sa.exc.SQLAlchemyError, DatabaseUnavailable) as err:
        raise SharedIndexError(f"The shared index in {db.safe_url} cannot be reached ({type(err).__name__}).") from err


class Busy(Exception):
    """Another process, here or on another machine, is changing the index."""


class SharedIndex:
    def __init__(self, db: Database, index_dir: Path, corpus_dir: Path) -> None:
        self.db = db
        self.index_dir = index_dir
        self.corpus_dir = corpus_dir

    # ---- what this machine holds, and what is newest -----------------------------------------

    def local_version(self) -> str:
        try:
            return (self.index_dir / VERSION_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            return ""

    def latest(self) -> tuple[str, dict[str, str]] | None:
        """The newest version and its files (`corpus/<path>` or `index/<name>` -> SHA-256), or None."""
        query = (
            sa.select(index_versions.c.version, index_versions.c.files).order_by(index_versions.c.id.desc()).limit(1)
        )
        with _database_errors(self.db), self.db.connect() as conn:
            row = conn.execute(query).first()
        return (row.version, json.loads(row.files)) if row else None

    def latest_version(self) -> str:
        query = sa.select(index_versions.c.version).order_by(index_versions.c.id.desc()).limit(1)
        with _database_errors(self.db), self.db.connect() as conn:
            return conn.execute(query).scalar() or ""

    # ---- publish and pull -------------------------------------------------------------------

    def publish(self, version: str) -> None:
        """This machine's corpus and index folders, as they are now, become version `version`."""
        files = {f"index/{name}": self.index_dir / name for name in INDEX_FILES}
        files.update({f"corpus/{rel}": path for rel, path in _corpus_files(self.corpus_dir)})
        digests = {key: sha256_file(path) for key, path in files.items()}
        with _database_errors(self.db), self.db.begin() as conn:
            have = set(
                conn.execute(
                    sa.select(shared_files.c.sha256).where(shared_files.c.sha256.in_(set(digests.values())))
                ).scalars()
            )
            for key, digest in digests.items():
                if digest not in have:
                    data = zlib.compress(files[key].read_bytes(), 6)
                    conn.execute(sa.insert(shared_files).values(sha256=digest, data=data, created_at=time.time()))
                    have.add(digest)
            conn.execute(
                sa.insert(index_versions).values(version=version, created_at=time.time(), files=json.dumps(digests))
            )
            self._forget_old(conn)
        self._write_local_version(version)
        log.info("Published index version %s (%d files) for the other app processes", version, len(digests))

    def pull(self) -> bool:
        """Make this machine's folders the newest version; True when anything was written."""
        newest = self.latest()
        if newest is None or newest[0] == self.local_version():
            return False
        version, files = newest
        wanted = {key: digest for key, digest in files.items() if _safe_key(key)}
        changed = {key: digest for key, digest in wanted.items() if _sha256_or_none(self._path(key)) != digest}
        contents = self._contents(set(changed.values()))
        corpus = [k for k in changed if k.startswith("corpus/")]
        index = [f"index/{name}" for name in INDEX_FILES if f"index/{name}" in changed]
        for key in corpus + index:  # the snapshot last: once it is replaced, the version is complete
            write_atomically(self._path(key), contents[changed[key]])
        kept = {key.removeprefix("corpus/") for key in wanted if key.startswith("corpus/")}
        removed = [path for rel, path in _corpus_files(self.corpus_dir) if rel not in kept]
        for path in removed:
            path.unlink(missing_ok=True)
        self._write_local_version(version)
        log.info("Pulled index version %s: %d files written, %d removed", version, len(changed), len(removed))
        return bool(changed or removed)

    def _contents(self, digests: set[str]) -> dict[str, bytes]:
        if not digests:
            return {}
        query = sa.select(shared_files.c.sha256, shared_files.c.data).where(shared_files.c.sha256.in_(digests))
        with _database_errors(self.db), self.db.connect() as conn:
            found = {row.sha256: zlib.decompress(row.data) for row in conn.execute(query)}
        missing = digests - found.keys()
        if missing:
            raise SharedIndexError(f"{len(missing)} file(s) of the newest index version are missing from the database.")
        return found

    def _path(self, key: str) -> Path:
        area, _, rel = key.partition("/")
        return (self.index_dir if area == "index" else self.corpus_dir) / rel

    def _write_local_version(self, version: str) -> None:
        write_atomically(self.index_dir / VERSION_FILE, version.encode("utf-8"))

    @staticmethod
    def _forget_old(conn) -> None:
        keep = (
            conn.execute(sa.select(index_versions.c.id).order_by(index_versions.c.id.desc()).limit(KEEP_VERSIONS))
            .scalars()
            .all()
        )
        if len(keep) < KEEP_VERSIONS:
            return
        conn.execute(sa.delete(index_versions).where(index_versions.c.id < min(keep)))
        used = set()
        for files in conn.execute(sa.select(index_versions.c.files)).scalars():
            used.update(json.loads(files).values())
        stored = set(conn.execute(sa.select(shared_files.c.sha256)).scalars())
        if stored - used:
            conn.execute(sa.delete(shared_files).where(shared_files.c.sha256.in_(stored - used)))

    # ---- one change at a time, across machines ----------------------------------------------

    @contextlib.contextmanager
    def lock(self, wait: bool = True) -> Iterator[None]:
        """Held while an index is built and published. `wait=False` raises `Busy` at once when
        another process holds it."""
        if self.db.is_sqlite:
            from filelock import FileLock, Timeout

            file_lock = FileLock(str(self.db.path) + ".index.lock", thread_local=False)  # released by another thread
            try:
                file_lock.acquire(timeout=LOCK_WAIT_SECONDS if wait else 0)
            except Timeout as err:
                raise Busy() from err
            try:
                yield
            finally:
                file_lock.release()
            return
        with _database_errors(self.db):
            conn = self.db.engine.connect()
        try:
            with _database_errors(self.db):
                acquired = _advisory_lock(conn, LOCK_WAIT_SECONDS if wait else 0)
            if not acquired:
                raise Busy()
            try:
                yield
            finally:
                with contextlib.suppress(sa.exc.SQLAlchemyError):  # a lost connection has let go already
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": PG_LOCK_KEY})
                    conn.commit()
        finally:
            conn.close()


def _advisory_lock(conn, seconds: float) -> bool:
    """PostgreSQL's session lock: held until unlocked, or until the connection ends (a process
    that dies lets go by itself)."""
    deadline = time.monotonic() + seconds
    while not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": PG_LOCK_KEY}).scalar():
        conn.rollback()  # no transaction stays open while waiting
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
    conn.commit()
    return True


def _corpus_files(folder: Path) -> list[tuple[str, Path]]:
    """Every file of the corpus folder (its documents, the deployer's file and the glossary), by
    path within it; hidden files and folders (an upload being written, a backup) are not shared."""
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not path.is_symlink() and not any(part.startswith(".") for part in rel.parts):
            out.append((rel.as_posix(), path))
    return out


def _safe_key(key: str) -> bool:
    """A key names a file inside one of the two folders, never outside them (a hostile row)."""
    area, _, rel = key.partition("/")
    parts = rel.split("/")
    if area == "index":
        return rel in INDEX_FILES
    return area == "corpus" and bool(rel) and all(p not in ("", ".", "..") and not p.startswith(".") for p in parts)



def _sha256_or_none(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None

