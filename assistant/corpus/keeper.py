"""Keeping the index in step with the corpus folder: an ingest embeds only what changed (`index.py`);
with an index shared by several machines (a Chroma server and a database set), each new version is
published for the others and the newest one is pulled first (`stores/shared_index.py`).

One ingest at a time: per machine, a file lock beside the index (`index.py`); across machines, the
shared lock. An ingest from a folder older than the shared version is refused unless forced, since
publishing it would undo what was changed elsewhere.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

from assistant.corpus.index import LOCK_FILE, LOCK_WAIT_SECONDS, IndexError_, IngestSummary, Manifest, ingest
from assistant.corpus.sandbox import ParseBudget
from assistant.settings import Settings

log = logging.getLogger(__name__)


class IndexKeeper:
    def __init__(self, settings: Settings, embedder: Callable[[], object], client: Callable[[], object]) -> None:
        self.settings = settings
        self._embedder = embedder  # both opened only when first needed
        self._client = client
        self.shared = _shared_index(settings)
        self._lock = threading.Lock()

    def ingest(self, progress=None, locked: bool = False, force: bool = False) -> IngestSummary:
        """Index the corpus folder (only what changed). With a shared index, one ingest runs at a
        time across every process and machine, and its result is published to them all; `locked`
        says the caller already holds that lock (`shared.lock()`) and has pulled. Otherwise a folder
        older than the newest shared version is refused unless `force`: publishing it would undo
        what was changed elsewhere (a document uploaded in the console, say)."""
        if self.shared is None or locked:
            return self._ingest(progress)
        with self._shared_errors(), self.shared.lock():
            newest, mine = self.shared.latest_version(), self.shared.local_version()
            if newest and newest != mine and not force:
                raise IndexError_(
                    f"This machine's corpus folder is older than the guidance shared by the other machines "
                    f"(version {newest}; this folder was last in step at {mine or 'no version'}). Indexing it would "
                    "undo the changes made since. Run `assistant pull` to bring this folder up to date (files changed "
                    "there are replaced), then make your change again; or `assistant ingest --force` to publish "
                    "this folder as it is."
                )
            return self._ingest(progress)

    def pull(self) -> bool:
        """Bring this machine's corpus and index folders to the newest shared version (nothing to do
        without a shared index); True when anything changed. Under the local ingest lock, so that
        it never writes beside an ingest of this machine."""
        if self.shared is None:
            return False
        from filelock import FileLock

        self.settings.index_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.settings.index_dir / LOCK_FILE), timeout=LOCK_WAIT_SECONDS):
            return self.shared.pull()

    def ensure(self) -> IngestSummary | None:
        """Ingest when there is no index yet, or it was built with another embedder. With a shared
        index, the newest published version is taken first, and only the first process to find
        none builds one."""
        try:
            self.pull()
        except Exception as err:  # the database down: this machine's copy, if it has one, answers
            log.warning("%s This machine answers from its own copy of the index until it can.", err)
        if self.usable():
            return None
        if self.shared is None:
            return self.ingest()
        with self._shared_errors(), self.shared.lock():
            self.pull()  # another process may have built it while this one waited
            return None if self.usable() else self.ingest(locked=True)

    def usable(self) -> bool:
        """Is there an index, built with the embedder this assistant uses?"""
        manifest = Manifest.read(self.settings.index_dir)
        return manifest is not None and manifest.embedder == self._embedder().name

    def _ingest(self, progress) -> IngestSummary:
        with self._lock:
            s = self.settings
            max_bytes = int(s.max_document_mb * 1_000_000)
            # The store is opened (by `ingest`) only once the ingest lock is held.
            summary = ingest(
                s.corpus_dir,
                s.index_dir,
                self._embedder(),
                self._client,
                progress,
                max_bytes=max_bytes,
                budget=ParseBudget.from_settings(s),
                hosts=[s.host],
            )
            if self.shared is not None:
                summary.shared_version = self._publish()
            return summary

    def _publish(self) -> str:
        manifest = Manifest.read(self.settings.index_dir)
        try:
            self.shared.publish(manifest.version)
            return manifest.version
        except Exception as err:  # the database down or full: this machine has it, the others not yet
            raise IndexError_(
                f"The guidance was indexed on this machine but could not be shared with the others ({err})."
            ) from err

    @contextlib.contextmanager
    def _shared_errors(self):
        from assistant.stores.shared_index import SharedIndexError

        try:
            yield
        except SharedIndexError as err:
            raise IndexError_(f"{err} Nothing was changed.") from err


def _shared_index(settings: Settings):
    """The index published for other app processes (stores/shared_index.py), or None."""
    if not settings.shares_index:
        return None
    from assistant.stores.database import open_database
    from assistant.stores.shared_index import SharedIndex

    return SharedIndex(open_database(settings.records_url), settings.index_dir, settings.corpus_dir)
