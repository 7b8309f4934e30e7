"""Turning text into vectors: one interface (LangChain's `Embeddings`), two real implementations.

- `HashingEmbedder`, the default: hashed word and character n-grams. It needs no downloaded
  weights and no fitting, so it gives the same vector for the same text on any machine. It is
  lexical, not semantic: it adds typo-tolerance (character n-grams) to BM25, not synonyms.
- `SentenceTransformerEmbedder`: a sentence-transformers model by name or local folder, loaded
  on first use, so that torch is imported only when such a model is really wanted.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.text import normalise, terms

log = logging.getLogger(__name__)


class EmbedderUnavailable(Exception):
    """The configured embedder cannot be used here; the message says what to do."""


class HashingEmbedder(Embeddings):
    """Hashed n-gram vectors: word unigrams and bigrams of stems, plus character 3-5-grams.

    Feature hashing is a few lines of numpy; scikit-learn's HashingVectorizer does the same but
    costs about 1.5 s of import at every start, which the chat's start-up time cannot afford.
    """

    def __init__(self, n_features: int = 1024) -> None:
        self.n_features = n_features
        self.name = f"hashing-ngrams-v2-{n_features}"

    def _hashed(self, features: list[str]) -> np.ndarray:
        vector = np.zeros(self.n_features)
        for feature in features:
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            vector[int.from_bytes(digest, "little") % self.n_features] += 1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def _embed_one(self, text: str) -> list[float]:
        text = normalise(text).lower()
        both = np.concatenate([self._hashed(_stem_ngrams(text)) * 0.7, self._hashed(_char_ngrams(text)) * 0.3])
        norm = np.linalg.norm(both)
        return (both / norm if norm else both).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed_one(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed_one(text)


def _stem_ngrams(text: str) -> list[str]:
    stems = terms(text)
    return stems + [f"{a} {b}" for a, b in zip(stems, stems[1:])]


def _char_ngrams(text: str) -> list[str]:
    """Character 3-5-grams within each word, padded with spaces (typo tolerance)."""
    grams = []
    for word in text.split():
        padded = f" {word} "
        for n in (3, 4, 5):
            grams += [padded[i : i + n] for i in range(max(len(padded) - n + 1, 1))]
    return grams


class SentenceTransformerEmbedder(Embeddings):
    """A sentence-transformers model, through LangChain's Hugging Face integration."""

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        self.name = f"sentence-transformers:{model_name}"
        self._model: Embeddings | None = None

    def load(self) -> Embeddings:
        if self._model is None:
            try:
                from langchain_huggingface import HuggingFaceEmbeddings

                self._model = HuggingFaceEmbeddings(
                    model_name=self.model_name, encode_kwargs={"normalize_embeddings": True}
                )
            except Exception as err:  # missing files, no network, wrong format: all one message
                raise EmbedderUnavailable(
                    f"The embedding model '{self.model_name}' could not be loaded ({type(err).__name__}). "
                    "Give a local folder in ASSISTANT_MODEL_NAME, or set ASSISTANT_EMBEDDER=hashing."
                ) from err
        return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.load().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.load().embed_query(text)


def make_embedder(kind: str, model_name: str) -> Embeddings:
    """The embedder the settings ask for; 'auto' falls back to hashing when the model is not here."""
    if kind == "hashing":
        return HashingEmbedder()
    if kind == "sentence-transformers":
        embedder = SentenceTransformerEmbedder(model_name)
        embedder.load()
        return embedder
    if model_available_locally(model_name):
        embedder = SentenceTransformerEmbedder(model_name)
        try:
            embedder.load()
            return embedder
        except EmbedderUnavailable as err:
            log.warning("%s Using the hashing embedder instead.", err)
            return HashingEmbedder()
    log.warning(
        "Embedding model '%s' is not available on this machine; using the built-in hashing "
        "embedder (lexical n-grams, no download needed).",
        model_name,
    )
    return HashingEmbedder()


def model_available_locally(model_name: str) -> bool:
    """True for a model folder, or a model already in the Hugging Face cache. Never downloads."""
    path = Path(model_name).expanduser()
    if path.is_dir():
        return (path / "modules.json").is_file() or (path / "config.json").is_file()
    if os.environ.get("HF_HUB_OFFLINE") != "1":
        # Loading must not wait on a network that is not there: stay offline for this process.
        os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model_name, "modules.json")
    except Exception:
        return False
    return isinstance(found, str)
