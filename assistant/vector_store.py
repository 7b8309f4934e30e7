"""The vector store as the answer path sees it: connected lazily, reconnected after a failure,
and never the reason a question goes unanswered.

While Chroma (a server, or the local store in a read-only data folder) cannot be reached, a
search returns no vector hits, so keyword search over the index snapshot answers alone; the log
says so once when it goes down and once when it is back, and `/healthz` reports it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0  # while down, at most one attempt to reconnect this often
CHECK_SECONDS = 2.0  # the health check asks the store itself at most this often


class VectorStore:
    def __init__(self, connect: Callable[[], object]) -> None:
        self._connect = connect  # returns a LangChain Chroma store, or raises
        self._store = None
        self._lock = threading.Lock()
        self._last_attempt = 0.0
        self._last_check = 0.0
        self.error = ""  # why it is down ("" when up)

    @property
    def available(self) -> bool:
        return not self.error

    def similarity_search_by_vector_with_relevance_scores(self, vector, k: int):
        store = self._get()
        if store is None:
            return []
        try:
            return store.similarity_search_by_vector_with_relevance_scores(vector, k=k)
        except Exception as err:
            self._down(err)
            return []

    def check(self) -> tuple[bool, str]:
        """Up or down, asked of the store itself (at most every CHECK_SECONDS)."""
        now = time.monotonic()
        if now - self._last_check >= CHECK_SECONDS:
            self._last_check = now
            store = self._get(force=True)
            if store is not None:
                try:
                    store._collection.count()
                    self._up()
                except Exception as err:
                    self._down(err)
        return self.available, self.error or "ok"

    def _get(self, force: bool = False):
        if self._store is not None and not self.error:
            return self._store
        now = time.monotonic()
        if not force and self._last_attempt and now - self._last_attempt < RETRY_SECONDS:
            return None
        with self._lock:
            self._last_attempt = now
            try:
                self._store = self._connect()
            except Exception as err:
                self._down(err)
                return None
        self._up()
        return self._store

    def _down(self, err: Exception) -> None:
        if not self.error:
            # Host, port and details are for the deployer's log, never for the chat.
            log.warning(
                "Vector search unavailable (%s: %s); answering from keyword search only.", type(err).__name__, err
            )
        self.error = f"unavailable ({type(err).__name__})"
        self._last_attempt = time.monotonic()

    def _up(self) -> None:
        if self.error:
            log.warning("Vector search is back.")
        self.error = ""
