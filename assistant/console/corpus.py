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
import json
import logging
import re
import shutil
import threading
import time
from pathlib import Path

import sqlalchemy as sa
import yaml

from assistant.console.backups import Backup
from assistant.console.jobs import Job, Jobs, is_here, owner_is_gone
from assistant.corpus.documents import SUPPORTED, UnreadableDocument, read_document
from assistant.corpus.index import MANIFEST
from assistant.corpus.sandbox import ParseBudget
from assistant.files import write_atomically
from assistant.service import Service
from assistant.stores import write_errors
from assistant.stores.audit import AuditLog
from assistant.stores.database import Database
from assistant.stores.shared_index import Busy, SharedIndexError
from assistant.stores.tables import document_status

log = logging.getLogger(__name__)

MAX_NAME = 120
PROGRESS_EVERY = 0.5  # seconds between progress writes
KINDS = "Markdown (.md), text (.txt), HTML (.html), PDF (.pdf) or Word (.docx)"


class ChangeRefused(Exception):
    """A change that was not made; the message says why, in plain words."""

    def __init__(self, message: str, status: int = 422, code: str = "invalid_document") -> None:
        super().__init__(message)
        self.status, self.code = status, code


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
        raise ChangeRefused(
            f"'{base}' is not a kind of document the assistant reads: add {KINDS}.", 415, "unsupported_type"
        )
    return base


class Corpus:
    def __init__(self, service: Service, db: Database, audit: AuditLog) -> None:
        self.service = service
        self.settings = service.settings
        self.folder = service.settings.corpus_dir
        self.db = db
        self.audit = audit
        self.jobs = Jobs(db)
        self.backups = service.settings.data_dir / "console-backups"
        self._running = threading.Lock()  # one change at a time in this process
        self.recover()

    @property
    def max_bytes(self) -> int:
        return int(self.settings.max_document_mb * 1_000_000)

    # ---- checks
    def check_document(self, name: str, data: bytes, host: str | None = None) -> list[str]:
        """Refuse a document the assistant could not use (ChangeRefused); its warnings otherwise.
        Read from memory (a Word file or a PDF in a child process with a memory and time budget,
        `corpus/sandbox.py`): nothing is written anywhere until it has passed. `host` is the
        address the request came in on: a source URL pointing there is refused."""
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
        try:
            doc, warnings = read_document(
                data, name, name, ParseBudget.from_settings(self.settings), [self.settings.host, host]
            )
        except UnreadableDocument as err:
            raise ChangeRefused(f"'{name}' cannot be used: {err}.") from err
        except Exception as err:  # a reader's own failure on a broken file
            raise ChangeRefused(f"'{name}' could not be read ({type(err).__name__}).") from err
        from assistant.corpus.chunking import chunk_document

        if not chunk_document(doc):
            raise ChangeRefused(f"'{name}' has no passages the assistant could quote.")
        return warnings

    # ---- changes (each starts an ingest job and returns it)
    def upload(self, name: str, data: bytes, who: str, host: str | None = None) -> Job:
        name = safe_name(name)
        warnings = self.check_document(name, data, host)
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
        return self._change("edit", which, who, which, lambda: write_atomically(path, text.encode("utf-8")), [path], [])

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
        return sorted(
            p
            for p in self.folder.iterdir()
            if p.is_file() and p.suffix.lower() in SUPPORTED and not p.name.startswith(".")
        )

    def _change(self, action, name, who, note, apply, touched: list[Path], warnings) -> Job:
        """Make a change and start its ingest; or, when any step fails, undo what was done (the
        corpus folder as before, the job closed as failed) and say why (ChangeRefused)."""
        busy = ChangeRefused("Another change is being indexed; try again when it has finished.", 409, "ingest_running")
        if not self._running.acquire(blocking=False):
            raise busy
        held = contextlib.ExitStack()  # with a shared index: the lock of every machine, until indexed
        job_id = backup = None
        try:
            if self.service.shared is not None:
                held.enter_context(self.service.shared.lock(wait=False))
            self.service.pull()  # the change is made to the newest guidance, wherever it was changed
            self._close_abandoned()
            job_id = self.jobs.new(action, name)
            self.audit.write(who, action, note)
            backup = Backup.make(self.backups / f"job-{job_id}", touched, _index_version(self.settings.index_dir))
            apply()
        except BaseException as err:
            refusal = _refusal(err)
            if backup is not None:
                backup.discard()  # the change itself is written whole or not at all: nothing to put back
            if job_id is not None:
                self._close(job_id, "failed", f"Not changed: {refusal or 'the change could not be made.'}")
            self._release(held)
            if refusal is None:
                raise
            raise refusal from err
        stop_beating = self.jobs.heartbeat(job_id)
        threading.Thread(
            target=self._ingest,
            args=(job_id, backup, name, warnings, who, held, stop_beating),
            name="console-ingest",
            daemon=True,
        ).start()
        return self.job(job_id)

    def _release(self, held: contextlib.ExitStack) -> None:
        held.close()
        self._running.release()

    def _ingest(
        self, job_id: int, backup: Backup, name: str, warnings: list[str], who: str, held, stop_beating
    ) -> None:
        last = [0.0]

        def progress(done: int, total: int) -> None:
            if time.monotonic() - last[0] >= PROGRESS_EVERY or done == total:
                last[0] = time.monotonic()
                try:
                    self.jobs.update(job_id, done=done, total=total)
                except Exception as err:  # the job's progress is not worth failing the ingest for
                    log.warning("Could not note an ingest's progress (%s)", type(err).__name__)

        try:
            try:
                summary = self.service.ingest(progress, locked=True)
                skipped = dict(summary.skipped)
                if name in skipped:
                    raise ChangeRefused(f"'{name}' could not be indexed: {skipped[name]}.")
            except Exception as err:  # any failure: put the folder back; the old index still answers
                backup.restore()
                if write_errors.kind_of(err):
                    self.service.reopen_store()  # its SQLite may be left mid-write: the next change opens it anew
                reason = write_errors.plain_reason(err) or (
                    err.user_message if hasattr(err, "user_message") else str(err)
                )
                log.warning("The ingest after a console change failed (%s); the change was undone", reason)
                self._close(
                    job_id,
                    "failed",
                    f"Not indexed, and the change was undone: {reason} The assistant still answers from the previous version.",
                )
                self._audit(who, "ingest_failed", name)
                return
            # Indexed: the new index is the truth from here on, whatever is noted below.
            try:
                self._record_status(summary)
            except Exception as err:
                log.warning("Could not note the documents' status after an ingest (%s)", type(err).__name__)
            parts = [f"Indexed: {_count(summary.documents, 'document')}, {_count(summary.chunks, 'passage')} ({summary.added} new)"]
            parts += [f"Note: {w}" for w in warnings]
            self._close(job_id, "done", "; ".join(parts) + ".")
            self._audit(who, "ingested", name)
        finally:
            stop_beating.set()
            backup.discard()
            self._release(held)

    def _close(self, job_id: int, state: str, message: str) -> None:
        """Close a job; if the database cannot be written now (a full disk), the next change or the
        next start closes it (`_close_abandoned`, `recover`)."""
        try:
            self.jobs.update(job_id, state=state, message=message, finished=True)
        except Exception as err:
            log.warning("Could not close ingest job %s (%s)", job_id, type(err).__name__)

    def _audit(self, who: str, action: str, detail: str) -> None:
        try:
            self.audit.write(who, action, detail)
        except Exception as err:
            log.warning("Could not write the audit log (%s)", type(err).__name__)

    # ---- jobs left by a server that stopped
    def recover(self) -> None:
        """At start: close each job whose server stopped while it ran (this machine's: the process
        is gone; another's: no heartbeat for jobs.LEASE_SECONDS), put the corpus folder back where
        its ingest had not finished, remove its backup, and say what happened in the job."""
        try:
            abandoned = [job for job in self.jobs.running() if owner_is_gone(job)]
        except Exception as err:  # the database down: the next start, or the next change, does it
            log.warning("Could not look for unfinished console changes (%s)", type(err).__name__)
            return
        for job in abandoned:
            self._recover(job)
        self._remove_stray_backups()

    def _close_abandoned(self) -> None:
        """Before a change (one at a time in this process, under its lock): a job of this process
        still "running" could not be closed when it ended (its database write failed)."""
        for job in self.jobs.running():
            if job.owner == self.jobs.owner or owner_is_gone(job):
                self._recover(job)

    def _recover(self, job: Job) -> None:
        folder = self.backups / f"job-{job.id}"
        backup = Backup.read(folder) if is_here(job) else None
        progress = f" ({job.done} of {job.total} passages embedded)" if job.total else ""
        if backup is None:
            state = "failed"
            message = (
                f"The server stopped while this change was being indexed{progress}. "
                f"Check that '{job.name}' is as you want it in the documents list; if not, make the change again."
            )
            if is_here(job) and not folder.exists():
                message = "Not changed: the server stopped before the change was made. Make the change again."
        elif _index_version(self.settings.index_dir) != backup.index_version:
            state = "done"
            message = "Indexed, but the server stopped just after, before it could say so here."
        else:
            restored = backup.restore()
            state = "failed"
            undone = {
                "upload": f"'{job.name}' was not added: upload it again.",
                "replace": f"'{job.name}' was put back as it was: upload the new version again.",
                "remove": f"'{job.name}' was not removed: remove it again.",
                "edit": f"{job.name} was put back as it was: make your edit again.",
            }.get(job.action, "Make the change again.")
            if not restored:
                undone = f"'{job.name}' could not be put back as it was (see the server's log); check it."
            message = (
                f"The server stopped while this change was being indexed{progress}, so it was undone and the "
                f"assistant answers from the previous version. {undone}"
            )
        if self.jobs.close_if_running(job.id, state, message):
            log.warning("Console job %s (%s %s): %s", job.id, job.action, job.name, message)
            if backup is not None:
                backup.discard()
            shutil.rmtree(folder, ignore_errors=True)

    def _remove_stray_backups(self) -> None:
        """Backup folders of jobs that are closed (a backup is removed when its job ends; one left by
        a server that stopped at the wrong moment is removed here)."""
        if not self.backups.is_dir():
            return
        for folder in self.backups.iterdir():
            try:
                job = self.jobs.get(int(folder.name.removeprefix("job-")))
            except (ValueError, Exception):
                continue
            if job is None or job.state != "running":
                shutil.rmtree(folder, ignore_errors=True)

    # ---- jobs and document status
    def job(self, job_id: int) -> Job | None:
        return self.jobs.get(job_id)

    def latest_job(self) -> Job | None:
        return self.jobs.latest()

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


def _index_version(index_dir: Path) -> str:
    """The version of the index the servers answer from (a new one at every completed ingest)."""
    try:
        return json.loads((index_dir / MANIFEST).read_text(encoding="utf-8")).get("version", "")
    except (OSError, ValueError, AttributeError):
        return ""


def _refusal(err: BaseException) -> ChangeRefused | None:
    """A failed change as the person who asked for it should hear it; None for an unknown failure."""
    if isinstance(err, ChangeRefused):
        return err
    if isinstance(err, Busy):
        return ChangeRefused("Another change is being indexed; try again when it has finished.", 409, "ingest_running")
    if isinstance(err, SharedIndexError):
        return ChangeRefused(f"{err} Nothing was changed; try again later.", 503, "store_unavailable")
    kind = write_errors.kind_of(err)
    if kind == write_errors.DISK_FULL:
        return ChangeRefused(
            "The server's disk is full, so the change could not be saved; nothing was changed. "
            "Free some space on the server, then try again.",
            507,
            "disk_full",
        )
    if kind == write_errors.READ_ONLY:
        return ChangeRefused(
            "The server's data or guidance folder cannot be written (it is read-only), so nothing was changed.",
            503,
            "read_only",
        )
    if isinstance(err, OSError):
        return ChangeRefused(f"The corpus folder could not be changed ({err.strerror or err}).", 500, "io_error")
    return None


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
    from assistant.corpus.deployer import _SAFE_URL, contact_url_problem

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
        problem = contact_url_problem(url.strip()) if url else None
        if problem:
            raise ChangeRefused(f"Contact {i}'s url is refused: {problem}.")
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
