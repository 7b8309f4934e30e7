"""Changing the guidance from the console: add, replace or remove a document, or edit the deployer's
file or the glossary; each change is checked first, then indexed in the background.

A change that fails its checks changes nothing and says why. A change that passes is made in the
corpus folder, then ingested (only what changed is embedded) with its progress in `ingest_jobs`;
when the ingest completes, the new index snapshot replaces the old one atomically and the running
server answers from it (this process at its next question, other worker processes within a second:
`Service` watches the snapshot). If the ingest fails, the corpus folder is put back as it was, so
the previous index, which never stopped answering, still matches it, and the job says why.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
import yaml

from assistant.corpus.documents import SUPPORTED, UnreadableDocument, load_document
from assistant.files import write_atomically
from assistant.service import Service
from assistant.stores.audit import AuditLog
from assistant.stores.database import Database
from assistant.stores.shared_index import Busy, SharedIndexError
from assistant.stores.tables import document_status, ingest_jobs

log = logging.getLogger(__name__)

MAX_NAME = 120
PROGRESS_EVERY = 0.5  # seconds between progress writes
KINDS = "Markdown (.md), text (.txt), HTML (.html), PDF (.pdf) or Word (.docx)"


class ChangeRefused(Exception):
    """A change that was not made; the message says why, in plain words."""

    def __init__(self, message: str, status: int = 422, code: str = "invalid_document") -> None:
        super().__init__(message)
        self.status, self.code = status, code


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


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def safe_name(filename: str) -> str:
    """The name a file gets in the corpus folder: its own base name, plain characters only."""
    base = re.split(r"[\\/]", filename or "")[-1].strip()
    base = re.sub(r"\s+", "-", base)
    if not base or base.startswith(".") or len(base) > MAX_NAME or not re.fullmatch(r"[A-Za-z0-9._()-]+", base):
        raise ChangeRefused(
            "The file name must be plain letters, numbers, dots, dashes or brackets (at most "
            f"{MAX_NAME} characters), not starting with a dot."
        )
    if Path(base).suffix.lower() not in SUPPORTED:
        raise ChangeRefused(f"'{base}' is not a kind of document the assistant reads: add {KINDS}.", 415, "unsupported_type")
    return base


class Corpus:
    def __init__(self, service: Service, db: Database, audit: AuditLog) -> None:
        self.service = service
        self.settings = service.settings
        self.folder = service.settings.corpus_dir
        self.db = db
        self.audit = audit
        self._running = threading.Lock()  # one change at a time in this process

    @property
    def max_bytes(self) -> int:
        return int(self.settings.max_document_mb * 1_000_000)

    # ---- checks
    def check_document(self, name: str, data: bytes) -> list[str]:
        """Refuse a document the assistant could not use (ChangeRefused); its warnings otherwise."""
        name = safe_name(name)
        if len(data) > self.max_bytes:
            raise ChangeRefused(
                f"The file is {len(data) / 1e6:,.1f} MB; the largest document the assistant takes is "
                f"{self.max_bytes / 1e6:,.1f} MB.",
                413,
                "too_large",
            )
        if not data.strip():
            raise ChangeRefused("The file is empty.")
        if Path(name).suffix.lower() in (".md", ".markdown"):
            _check_front_matter(data)
        with tempfile.TemporaryDirectory(prefix="upload-") as tmp:
            staged = Path(tmp) / name
            staged.write_bytes(data)
            try:
                doc, warnings = load_document(staged, name)
            except UnreadableDocument as err:
                raise ChangeRefused(f"'{name}' cannot be used: {err}.") from err
            except Exception as err:  # a reader's own failure on a broken file
                raise ChangeRefused(f"'{name}' could not be read ({type(err).__name__}).") from err
        from assistant.corpus.chunking import chunk_document

        if not chunk_document(doc):
            raise ChangeRefused(f"'{name}' has no passages the assistant could quote.")
        return warnings

    # ---- changes (each starts an ingest job and returns it)
    def upload(self, name: str, data: bytes, who: str) -> Job:
        name = safe_name(name)
        warnings = self.check_document(name, data)
        target = self.folder / name
        action = "replace" if target.exists() else "upload"
        size = f"{len(data):,} bytes" if len(data) < 10_240 else f"{len(data) / 1024:,.0f} KB"
        note = f"{name} ({size})"
        return self._change(action, name, who, note, lambda: write_atomically(target, data), [target], warnings)

    def remove(self, name: str, who: str) -> Job:
        try:
            self.service.pull()  # it may have been added on another machine a moment ago
        except SharedIndexError as err:
            raise ChangeRefused(f"{err} Nothing was changed; try again later.", 503, "store_unavailable") from err
        target = self._existing(name)
        others = [p for p in self._files() if p != target]
        if not others:
            raise ChangeRefused("This is the only document: add another before removing it.", 409, "last_document")
        return self._change("remove", target.name, who, target.name, target.unlink, [target], [])

    def save_file(self, which: str, text: str, who: str) -> Job:
        """Save the deployer's file (`assistant.yaml`) or the glossary (`glossary.yaml`) after checking it."""
        path = self.settings.deployer_path if which == "assistant.yaml" else self.settings.glossary_path
        if len(text.encode("utf-8")) > 200_000:
            raise ChangeRefused("The file is too long (at most 200 KB).", 413, "too_large")
        (check_profile if which == "assistant.yaml" else check_glossary)(text)
        return self._change(
            "edit", which, who, which, lambda: write_atomically(path, text.encode("utf-8")), [path], []
        )

    def read_file(self, which: str) -> str:
        path = self.settings.deployer_path if which == "assistant.yaml" else self.settings.glossary_path
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    def _existing(self, name: str) -> Path:
        candidates = {p.name: p for p in self._files()}
        if name not in candidates:
            raise ChangeRefused(f"There is no document called '{name}'.", 404, "not_found")
        return candidates[name]

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED and not p.name.startswith("."))

    def _change(self, action, name, who, note, apply, touched: list[Path], warnings) -> Job:
        busy = ChangeRefused("Another change is being indexed; try again when it has finished.", 409, "ingest_running")
        if not self._running.acquire(blocking=False):
            raise busy
        held = contextlib.ExitStack()  # with a shared index: the lock of every machine, until indexed
        try:
            if self.service.shared is not None:
                held.enter_context(self.service.shared.lock(wait=False))
            self.service.pull()  # the change is made to the newest guidance, wherever it was changed
            backup = _Backup(touched)
            apply()
        except Busy:
            self._release(held)
            raise busy from None
        except SharedIndexError as err:
            self._release(held)
            raise ChangeRefused(f"{err} Nothing was changed; try again later.", 503, "store_unavailable") from err
        except ChangeRefused:
            self._release(held)
            raise
        except OSError as err:
            self._release(held)
            raise ChangeRefused(f"The corpus folder could not be changed ({err.strerror or err}).", 500, "io_error") from err
        job_id = self._new_job(action, name)
        self.audit.write(who, action, note)
        threading.Thread(
            target=self._ingest, args=(job_id, backup, name, warnings, who, held), name="console-ingest", daemon=True
        ).start()
        return self.job(job_id)

    def _release(self, held: contextlib.ExitStack) -> None:
        held.close()
        self._running.release()

    def _ingest(self, job_id: int, backup: _Backup, name: str, warnings: list[str], who: str, held) -> None:
        last = [0.0]

        def progress(done: int, total: int) -> None:
            if time.monotonic() - last[0] >= PROGRESS_EVERY or done == total:
                last[0] = time.monotonic()
                self._update(job_id, done=done, total=total)

        try:
            summary = self.service.ingest(progress, locked=True)
            skipped = dict(summary.skipped)
            if name in skipped:
                raise ChangeRefused(f"'{name}' could not be indexed: {skipped[name]}.")
            self._record_status(summary)
            parts = [f"Indexed: {_count(summary.documents, 'document')}, {_count(summary.chunks, 'passage')} ({summary.added} new)"]
            parts += [f"Note: {w}" for w in warnings]
            self._update(job_id, state="done", message="; ".join(parts) + ".", finished=True)
            self.audit.write(who, "ingested", name)
        except Exception as err:  # any failure: put the folder back; the old index still answers
            backup.restore()
            reason = err.user_message if hasattr(err, "user_message") else str(err)
            log.warning("The ingest after a console change failed (%s); the change was undone", reason)
            self._update(
                job_id,
                state="failed",
                message=f"Not indexed, and the change was undone: {reason} The assistant still answers from the previous version.",
                finished=True,
            )
            self.audit.write(who, "ingest_failed", name)
        finally:
            backup.discard()
            self._release(held)

    # ---- jobs and document status
    def _new_job(self, action: str, name: str) -> int:
        with self.db.begin() as conn:
            return conn.execute(
                sa.insert(ingest_jobs).values(
                    created_at=time.time(), action=action, name=name, state="running", done=0, total=0, message="Indexing..."
                )
            ).inserted_primary_key[0]

    def _update(self, job_id: int, state: str | None = None, message: str | None = None, finished=False, **counts):
        values = dict(counts)
        if state:
            values["state"] = state
        if message is not None:
            values["message"] = message
        if finished:
            values["finished_at"] = time.time()
        with self.db.begin() as conn:
            conn.execute(sa.update(ingest_jobs).where(ingest_jobs.c.id == job_id).values(**values))

    def job(self, job_id: int) -> Job | None:
        with self.db.connect() as conn:
            row = conn.execute(sa.select(ingest_jobs).where(ingest_jobs.c.id == job_id)).mappings().first()
        return _job(row) if row else None

    def latest_job(self) -> Job | None:
        with self.db.connect() as conn:
            row = conn.execute(sa.select(ingest_jobs).order_by(ingest_jobs.c.id.desc()).limit(1)).mappings().first()
        return _job(row) if row else None

    def _record_status(self, summary) -> None:
        """When each document's current content was first indexed, and what the ingest said about it."""
        notes: dict[str, list[str]] = {}
        for warning in summary.warnings:
            doc, _, text = warning.partition(": ")
            notes.setdefault(doc, []).append(text)
        for doc, reason in summary.skipped:
            notes.setdefault(doc, []).append(f"not indexed: {reason}")
        with self.db.begin() as conn:
            known = {r["name"]: r for r in conn.execute(sa.select(document_status)).mappings()}
            present = set()
            for path in self._files():
                present.add(path.name)
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                row = known.get(path.name)
                values = {"file_hash": digest, "warnings": "\n".join(notes.get(path.name, []))}
                if row is None:
                    conn.execute(sa.insert(document_status).values(name=path.name, ingested_at=time.time(), **values))
                elif row["file_hash"] != digest or row["warnings"] != values["warnings"]:
                    if row["file_hash"] != digest:
                        values["ingested_at"] = time.time()
                    conn.execute(sa.update(document_status).where(document_status.c.name == path.name).values(**values))
            gone = set(known) - present
            if gone:
                conn.execute(sa.delete(document_status).where(document_status.c.name.in_(gone)))

    def status(self) -> dict[str, dict]:
        with self.db.connect() as conn:
            return {r["name"]: dict(r) for r in conn.execute(sa.select(document_status)).mappings()}


def _job(row) -> Job:
    return Job(
        row["id"], row["action"], row["name"], row["state"], row["done"], row["total"], row["message"],
        row["created_at"], row["finished_at"],
    )  # fmt: skip


class _Backup:
    """The files a change touches, as they were, to put back if the ingest fails."""

    def __init__(self, paths: list[Path]) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="corpus-backup-"))
        self.saved: list[tuple[Path, Path | None]] = []
        for i, path in enumerate(paths):
            if path.exists():
                copy = self.folder / str(i)
                shutil.copy2(path, copy)
                self.saved.append((path, copy))
            else:
                self.saved.append((path, None))

    def restore(self) -> None:
        for path, copy in self.saved:
            try:
                if copy is None:
                    path.unlink(missing_ok=True)
                else:
                    shutil.copy2(copy, path)
            except OSError as err:
                log.error("Could not put %s back (%s)", path, err)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)



def _check_front_matter(data: bytes) -> None:
    """Front matter (the block between --- lines at the top) must be valid YAML with its settings
    (title, url, publisher, date) as text: a broken one would lose its title and link."""
    text = data.decode("utf-8-sig", errors="replace")
    match = re.match(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", text, re.DOTALL)
    if not match:
        if text.startswith("---"):
            raise ChangeRefused("Its front matter starts with --- but never ends: add a closing --- line.")
        return
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" (line {where.line + 2})" if where is not None else ""
        raise ChangeRefused(
            f"Its front matter is not valid YAML{line}: {getattr(err, 'problem', None) or 'it could not be read'}. "
            'Put a value that has a colon in it in quotes, for example title: "Safeguarding: a guide".'
        ) from err
    if meta is not None and not isinstance(meta, dict):
        raise ChangeRefused("Its front matter must be settings such as 'title: ...' and 'url: ...', one a line.")


def _yaml_mapping(text: str, what: str) -> dict:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ChangeRefused(f"The {what} is not valid YAML{line}: {getattr(err, 'problem', None) or err}.") from err
    if not isinstance(data, dict):
        raise ChangeRefused(f"The {what} must be settings (name: value), not a list or plain text.")
    return data


def check_profile(text: str) -> None:
    from assistant.corpus.deployer import _SAFE_URL

    data = _yaml_mapping(text, "assistant file")
    known = {"name", "title", "scope", "example_question", "starter_questions", "contacts", "sources", "language"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ChangeRefused(f"Unknown setting(s): {', '.join(unknown)}. The file takes {', '.join(sorted(known))}.")
    for key in ("name", "title", "scope", "example_question"):
        if key in data and not isinstance(data[key], str | type(None)):
            raise ChangeRefused(f"'{key}' must be text.")
    if not isinstance(data.get("starter_questions") or [], list):
        raise ChangeRefused("'starter_questions' must be a list (one '- question' a line).")
    contacts = data.get("contacts") or []
    if not isinstance(contacts, list):
        raise ChangeRefused("'contacts' must be a list of contacts, each with a name.")
    for i, contact in enumerate(contacts, 1):
        if not isinstance(contact, dict) or not str(contact.get("name") or "").strip():
            raise ChangeRefused(f"Contact {i} needs a name.")
        url = str(contact.get("url") or "")
        if url and not _SAFE_URL.match(url):
            raise ChangeRefused(f"Contact {i}'s url must start with https://, http://, mailto: or tel:.")
    check_sources(data.get("sources"))


def check_sources(sources) -> None:
    """Each web source as `assistant sync` reads it (assistant/sources/declared.py)."""
    from assistant.sources.declared import parse_source

    if sources is None:
        return
    if not isinstance(sources, list):
        raise ChangeRefused("'sources' must be a list of sources, each with a url.")
    for i, entry in enumerate(sources, 1):
        try:
            parse_source(entry)
        except ValueError as err:
            raise ChangeRefused(f"Source {i}: {err}.", 422, "invalid_source") from err


def check_glossary(text: str) -> None:
    data = _yaml_mapping(text, "glossary")
    terms = data.get("terms") or []
    if not isinstance(terms, list):
        raise ChangeRefused("'terms' must be a list of entries, each with a term and what it expands to.")
    for i, entry in enumerate(terms, 1):
        if not isinstance(entry, dict) or not entry.get("term") or not entry.get("expands_to"):
            raise ChangeRefused(f"Glossary entry {i} needs both 'term' and 'expands_to'.")
        if not isinstance(entry.get("aliases") or [], list):
            raise ChangeRefused(f"Glossary entry {i}: 'aliases' must be a list.")
