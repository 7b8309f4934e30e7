"""The search index: vectors in ChromaDB, plus a snapshot of the chunks for BM25 and display.

The snapshot (`manifest.json`) is the source of truth for which chunks exist. It is replaced
atomically at the very end of an ingest, so an ingest that fails half-way leaves the previous
index answering as before; vectors it had already added are reused by the next ingest.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.embeddings import Embeddings

from assistant.corpus.chunking import Chunk, chunk_document
from assistant.corpus.documents import DEFAULT_MAX_BYTES, load_corpus
from assistant.corpus.unit_vectors import UnitVectors

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
LOCK_FILE = ".ingest.lock"
LOCK_WAIT_SECONDS = 1800
COLLECTION_PREFIX = "guidance-"
PENDING_FILE = "pending-collection.txt"  # the collection an unfinished ingest was building
EMBED_BATCH = 64


class IndexError_(Exception):
    """Something about the index the user must act on; the message says what."""

    @property
    def user_message(self) -> str:
        return str(self)


class StoreUnavailable(IndexError_):
    """The Chroma store (a server, or the data folder) cannot be reached."""

    @property
    def user_message(self) -> str:
        # The details (host, port, error) are for the deployer's log, not for the chat.
        return "The guidance search isn't available at the moment; please try again later."


@dataclass
class IngestSummary:
    documents: int = 0
    chunks: int = 0
    added: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rebuilt: bool = False
    units_embedded: int = 0  # sentences and lists embedded (the rest were already known)
    seconds: float = 0.0
    shared_version: str = ""  # set when published for other app processes (stores/shared_index.py)

    def lines(self) -> list[str]:
        out = [
            f"Documents: {self.documents}   chunks: {self.chunks}   added: {self.added}   "
            f"unchanged: {self.unchanged}   removed: {self.removed}   skipped: {len(self.skipped)}"
            f"   sentences embedded: {self.units_embedded}   ({self.seconds:.1f} s)"
        ]
        if self.rebuilt:
            out.append("The index was rebuilt for a different embedder.")
        if self.shared_version:
            out.append(f"Shared with the other app processes as version {self.shared_version}.")
        out += [f"Skipped {name}: {reason}" for name, reason in self.skipped]
        out += [f"Note: {w}" for w in self.warnings]
        return out


@dataclass
class Manifest:
    embedder: str
    collection: str
    chunks: list[Chunk]
    version: str = ""  # a new one at every ingest: a running server sees it and reloads
    # doc_id -> {"hash": its file's SHA-256, "indexed_at": when that content was first indexed}
    documents: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def read(cls, index_dir: Path) -> Manifest | None:
        path = index_dir / MANIFEST
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        chunks = [Chunk.from_metadata(c["id"], c["text"], c["metadata"]) for c in data["chunks"]]
        return cls(
            embedder=data["embedder"],
            collection=data["collection"],
            chunks=chunks,
            version=data.get("version", ""),
            documents=data.get("documents") or {},
        )

    def write(self, index_dir: Path) -> None:
        data = {
            "version": self.version or time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6],
            "embedder": self.embedder,
            "collection": self.collection,
            "chunks": [{"id": c.chunk_id, "text": c.text, "metadata": c.metadata()} for c in self.chunks],
            "documents": self.documents,
        }
        tmp = index_dir / f".{MANIFEST}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, index_dir / MANIFEST)  # atomic: readers see the old or the new, never half


def open_client(index_dir: Path, chroma_host: str | None = None, chroma_port: int = 8000):
    import chromadb

    try:
        if chroma_host:
            return chromadb.HttpClient(host=chroma_host, port=chroma_port)
        index_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(index_dir / "chroma"))
    except Exception as err:
        where = f"the Chroma server at {chroma_host}:{chroma_port}" if chroma_host else f"the folder {index_dir}"
        raise StoreUnavailable(f"The search index in {where} cannot be opened ({err}).") from err


def open_store(client, collection: str, embedder: Embeddings):
    from langchain_chroma import Chroma

    try:
        return Chroma(
            collection_name=collection,
            embedding_function=embedder,
            client=client,
            # Cosine space keeps scores in [0, 1]; no embedding function stops Chroma from
            # ever trying to download its own default model.
            collection_metadata={"hnsw:space": "cosine"},
            collection_configuration={"embedding_function": None},
        )
    except Exception as err:
        raise StoreUnavailable(f"The search index cannot be reached ({err}).") from err


def ingest(
    corpus_dir: Path,
    index_dir: Path,
    embedder: Embeddings,
    client=None,
    progress: Callable[[int, int], None] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> IngestSummary:
    """Bring the index in line with the corpus folder, embedding only what changed. One ingest at a
    time per index (a lock file beside it): a second waits for the first, then finds little to do.
    `client` may be a function that opens it."""
    from filelock import FileLock, Timeout

    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(index_dir / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.warning("Another ingest of %s is running; waiting for it to finish.", index_dir)
        lock.acquire(timeout=LOCK_WAIT_SECONDS)
    try:
        _remove_leftovers(index_dir)
        # The store is opened only once the lock is held: two first opens at once lock SQLite.
        client = client() if callable(client) else client
        return _ingest(corpus_dir, index_dir, embedder, client, progress, max_bytes)
    finally:
        lock.release()


def _remove_leftovers(index_dir: Path) -> None:
    """Temporary files of an ingest that was killed before it could replace the real ones."""
    for leftover in index_dir.glob(".*.tmp*"):
        try:
            leftover.unlink()
        except OSError:
            pass


def _remove_orphan(index_dir: Path, client, keep: str | None) -> None:
    """The collection of an ingest that was killed before it finished (a first ingest, or a rebuild
    for a new embedder): its name was written down before it was made. Only that one is removed,
    never another deployment's collection on a shared Chroma server."""
    pending = index_dir / PENDING_FILE
    try:
        name = pending.read_text(encoding="utf-8").strip()
    except OSError:
        return
    if name and name != keep:
        try:
            client.delete_collection(name)
            log.info("Removed the collection %s, left by an ingest that did not finish", name)
        except Exception as err:  # already gone, or the store is down: costs disk, not correctness
            log.info("The unfinished collection %s could not be removed (%s)", name, type(err).__name__)
    pending.unlink(missing_ok=True)


def _ingest(corpus_dir, index_dir, embedder, client, progress, max_bytes) -> IngestSummary:
    started = time.perf_counter()
    loaded = load_corpus(corpus_dir, max_bytes)
    summary = IngestSummary(documents=len(loaded.documents), skipped=loaded.skipped, warnings=loaded.warnings)
    if not loaded.documents:
        raise IndexError_(f"No readable documents were found in {corpus_dir}; the index was left as it was.")
    chunks = [chunk for doc in loaded.documents for chunk in chunk_document(doc)]
    summary.chunks = len(chunks)

    index_dir.mkdir(parents=True, exist_ok=True)
    client = client or open_client(index_dir)
    old = Manifest.read(index_dir)
    _remove_orphan(index_dir, client, keep=old.collection if old else None)
    name = getattr(embedder, "name", type(embedder).__name__)
    if old is not None and old.embedder == name:
        collection = old.collection
    else:
        # A different embedder makes every old vector meaningless: build a new collection and
        # switch to it only once it is complete.
        collection = f"{COLLECTION_PREFIX}{uuid.uuid4().hex[:12]}"
        summary.rebuilt = old is not None
        (index_dir / PENDING_FILE).write_text(collection, encoding="utf-8")
    store = open_store(client, collection, embedder)
    try:
        stored_ids = set(store.get(include=[])["ids"])
    except Exception as err:
        raise StoreUnavailable(f"The search index cannot be read ({err}).") from err

    wanted = {c.chunk_id: c for c in chunks}
    to_add = [c for c in chunks if c.chunk_id not in stored_ids]
    to_remove = sorted(stored_ids - wanted.keys())
    summary.unchanged = len(chunks) - len(to_add)
    for start in range(0, len(to_add), EMBED_BATCH):
        batch = to_add[start : start + EMBED_BATCH]
        store.add_texts(
            [c.search_text for c in batch],
            metadatas=[c.metadata() for c in batch],
            ids=[c.chunk_id for c in batch],
        )
        summary.added += len(batch)
        if progress:
            progress(summary.added, len(to_add))
    # Every quotable sentence gets its vector now, so that answering costs one encoding.
    units, summary.units_embedded = UnitVectors.build(chunks, embedder, index_dir)
    units.write(index_dir)
    documents = _document_times(loaded.documents, old.documents if old else {})
    Manifest(embedder=name, collection=collection, chunks=chunks, documents=documents).write(index_dir)
    if to_remove:
        store.delete(ids=to_remove)
        summary.removed = len(to_remove)
    (index_dir / PENDING_FILE).unlink(missing_ok=True)  # complete: no longer an orphan if killed now
    if old is not None and old.collection != collection:
        try:
            client.delete_collection(old.collection)
        except Exception:  # an old collection left behind costs disk, not correctness
            log.warning("Could not delete the old collection %s", old.collection)
    summary.seconds = time.perf_counter() - started
    return summary


def _document_times(documents, before: dict[str, dict]) -> dict[str, dict]:
    """When each document's current content was first indexed: kept from the last ingest when its
    file is unchanged, now when it is new or changed (so one change does not date every document)."""
    now = time.time()
    out = {}
    for doc in documents:
        known = before.get(doc.doc_id) or {}
        same = known.get("hash") == doc.file_hash and known.get("indexed_at")
        out[doc.doc_id] = {"hash": doc.file_hash, "indexed_at": known["indexed_at"] if same else now}
    return out
