"""Vectors of every quotable unit (sentence, or list with its intro), computed at ingest.

The composer compares the question with each candidate unit by meaning, so these vectors must
be ready before any question: a question then costs one encoding, not one per sentence.
Vectors are kept by a hash of the unit's text and the embedder's name (`units.npz` beside the
manifest), so an ingest embeds only units it has never seen, whatever document they come from.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from assistant.corpus.chunking import Chunk
from assistant.corpus.units import Unit, units_of

log = logging.getLogger(__name__)

FILE_NAME = "units.npz"
EMBED_BATCH = 256  # the embedder batches internally; this bounds memory and paces progress


def unit_key(text: str, embedder_name: str) -> str:
    return hashlib.sha1(f"{embedder_name}\n{text}".encode()).hexdigest()


class UnitVectors:
    def __init__(self, embedder, vectors: dict[str, np.ndarray] | None = None) -> None:
        self.embedder = embedder
        self.name = getattr(embedder, "name", type(embedder).__name__)
        self._vectors: dict[str, np.ndarray] = vectors or {}

    def __len__(self) -> int:
        return len(self._vectors)

    # ---- at ingest -------------------------------------------------------------------------

    @classmethod
    def build(
        cls, chunks: Iterable[Chunk], embedder, index_dir: Path, progress: Callable[[int, int], None] | None = None
    ) -> tuple[UnitVectors, int]:
        """Vectors for every unit of `chunks`, reusing those already stored; returns how many were new."""
        old = cls.load(index_dir, embedder)
        texts = {}
        for chunk in chunks:
            for unit in units_of(chunk, 0):
                text = unit.embed_text
                texts.setdefault(unit_key(text, old.name), text)
        missing = [k for k in texts if k not in old._vectors]
        vectors = {k: old._vectors[k] for k in texts if k in old._vectors}
        for start in range(0, len(missing), EMBED_BATCH):
            keys = missing[start : start + EMBED_BATCH]
            embedded = embedder.embed_documents([texts[k] for k in keys])
            vectors.update(zip(keys, np.asarray(embedded, dtype=np.float32)))
            if progress:
                progress(start + len(keys), len(missing))
        return cls(embedder, vectors), len(missing)

    def write(self, index_dir: Path) -> None:
        keys = sorted(self._vectors)
        matrix = np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)
        tmp = index_dir / f".{FILE_NAME}.{os.getpid()}.tmp.npz"
        np.savez(tmp, keys=np.array(keys), vectors=matrix, embedder=np.array(self.name))
        os.replace(tmp, index_dir / FILE_NAME)

    # ---- when answering --------------------------------------------------------------------

    @classmethod
    def load(cls, index_dir: Path, embedder) -> UnitVectors:
        """The stored vectors for this embedder; none (an empty set) when missing or for another."""
        store = cls(embedder)
        path = index_dir / FILE_NAME
        if not path.is_file():
            return store
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["embedder"]) != store.name:
                    return store
                store._vectors = dict(zip(data["keys"].tolist(), data["vectors"].astype(np.float32)))
        except (OSError, ValueError, KeyError) as err:
            log.warning("The unit vectors in %s could not be read (%s); they will be recomputed.", path, err)
        return store

    def matrix(self, units: list[Unit]) -> np.ndarray:
        """The units' vectors, one row each (unit length, so a product with a question vector is
        the cosine). A unit not seen at ingest (an index from an older version) is embedded now and kept."""
        texts = [u.embed_text for u in units]
        keys = [unit_key(text, self.name) for text in texts]
        missing = dict((k, t) for k, t in zip(keys, texts) if k not in self._vectors)
        if missing:
            embedded = self.embedder.embed_documents(list(missing.values()))
            self._vectors.update(zip(missing, np.asarray(embedded, dtype=np.float32)))
        return np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)
