"""The vector store as the answer path sees it: the passage vectors, read from Chroma once per index
and searched in memory, and never the reason a question goes unanswered.

Chroma holds the vectors (written at ingest); answering reads them all once when an index is
loaded, then searches them with one matrix product per question (exact cosine, no call into Chroma,
a few MB even for 20,000 passages). While Chroma (a server, or the local store in a read-only
data folder) cannot be read, a search returns no vector hits, so keyword search over the index
snapshot answers alone; it is tried again every few seconds. The log says so once when it goes
down and once when it is back, and `/healthz` reports it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0  # while the vectors could not be read, at most one attempt this often
CHECK_SECONDS = 2.0  # the health check asks the store itself at most this often


@dataclass(frozen=True)
class Hit:
    id: str  # the passage's chunk id (what the retriever reads of a LangChain document)


class VectorStore:
    def __init__(self, connect: Callable[[], object], ids: Iterable[str]) -> None:
        self._connect = connect  # returns a LangChain Chroma store, or raises
        self._wanted = set(ids)  # the passages of the index snapshot
        self._ids: list[str] = []
        self._matrix: np.ndarray | None = None
        self._lock = threading.Lock()
        self._last_attempt = 0.0
        self._last_check = 0.0
        self.error = ""  # why the store cannot be reached ("" when it can)

    @property
    def loaded(self) -> bool:
        return self._matrix is not None

    def similarity_search_by_vector_with_relevance_scores(self, vector, k: int) -> list[tuple[Hit, float]]:
        """The k passages nearest by cosine, as (hit, cosine distance), like Chroma's own search."""
        if self._matrix is None and not self._load():
            return []
        matrix, ids = self._matrix, self._ids
        if not ids:
            return []
        query = np.asarray(vector, dtype=np.float32)
        query = query / (np.linalg.norm(query) or 1.0)
        scores = matrix @ query
        k = min(k, len(ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(Hit(ids[i]), 1.0 - float(scores[i])) for i in top]

    def check(self) -> tuple[bool, str]:
        """Can the store be read (asked of the store itself, at most every CHECK_SECONDS)?"""
        now = time.monotonic()
        if now - self._last_check >= CHECK_SECONDS:
            self._last_check = now
            if self._matrix is None:
                self._load(force=True)
            else:
                try:
                    self._connect()._collection.count()
                    self._up()
                except Exception as err:
                    self._down(err)
        if not self.error:
            return True, "ok"
        if self._matrix is not None:
            return False, f"{self.error}: answering from the vectors read before it went down"
        return False, f"{self.error}: answering from keyword search only"

    def _load(self, force: bool = False) -> bool:
        now = time.monotonic()
        if not force and self._last_attempt and now - self._last_attempt < RETRY_SECONDS:
            return False
        with self._lock:
            if self._matrix is not None:
                return True
            self._last_attempt = now
            try:
                got = self._connect()._collection.get(include=["embeddings"])
            except Exception as err:
                self._down(err)
                return False
            pairs = [(i, v) for i, v in zip(got["ids"], got["embeddings"]) if i in self._wanted]
            matrix = np.asarray([v for _, v in pairs], dtype=np.float32).reshape(len(pairs), -1)
            norms = np.linalg.norm(matrix, axis=1, keepdims=True) if len(pairs) else 1.0
            self._ids = [i for i, _ in pairs]
            self._matrix = matrix / np.where(norms == 0, 1.0, norms)
            _one_blas_thread()
        self._up()
        return True

    def _down(self, err: Exception) -> None:
        if not self.error:
            # Host, port and details are for the deployer's log, never for the chat.
            how = "the vectors read before" if self._matrix is not None else "keyword search only"
            log.warning("The vector store is unavailable (%s: %s); answering from %s.", type(err).__name__, err, how)
        self.error = f"unavailable ({type(err).__name__})"
        self._last_attempt = time.monotonic()

    def _up(self) -> None:
        if self.error:
            log.warning("The vector store is back.")
        self.error = ""


def _one_blas_thread() -> None:
    """numpy's products in this process run on one thread (OpenBLAS's; process-wide, so set once
    the matrix exists). From a few thousand passages on, OpenBLAS splits this product over its
    threads, which makes it no faster and leaves them spinning for about 0.1 s of CPU after each
    question, taking a core from the question's encoding and the rest of the answer: at 100x the
    corpus on 2 cores, warm answers took twice as long (p50 about 45 -> 22 ms once this is set)."""
    threadpool_limits(1, user_api="blas")
