"""Turning text into vectors: one interface (LangChain's `Embeddings`), two real implementations.

- `HashingEmbedder`, the default: hashed word and character n-grams. It needs no downloaded
  weights and no fitting, so it gives the same vector for the same text on any machine. It is
  lexical, not semantic: it adds typo-tolerance (character n-grams) to BM25, not synonyms.
- `OnnxEmbedder`: the official all-MiniLM-L6-v2, verified on disk (`assistant.corpus.model_files`), run
  by ONNX Runtime with the `tokenizers` package: semantic, 0.06 s of import, about 6 ms a query.
- `SentenceTransformerEmbedder`: a sentence-transformers model by name or local folder, loaded
  on first use, so that torch is imported only when such a model is really wanted.

`make_embedder` picks one from the settings and never raises for `auto`: when the model is
missing or fails verification it logs one warning saying what is wrong and how to fix it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.corpus import model_files, reader_files
from assistant.corpus.onnx_encoder import EmbedderUnavailable, OnnxEncoder
from assistant.text import normalise, terms

log = logging.getLogger(__name__)


def embedder_kind(embedder_name: str) -> str:
    """'hashing' for the lexical fallback, 'reader' for the reader trained here, 'semantic' for
    another model: their cosines mean different things, so each gets its own fitted entries."""
    if embedder_name.startswith("hashing"):
        return "hashing"
    return "reader" if reader_files.is_reader(embedder_name) else "semantic"


def fitted_entry(fitted: dict, embedder_name: str):
    """The entry fitted for this embedder's kind; the reader, until fitted for, uses the base model's."""
    kind = embedder_kind(embedder_name)
    return fitted.get(kind) or (fitted.get("semantic") if kind == "reader" else None)


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

    def __init__(self, model_name: str, name: str | None = None) -> None:
        self.model_name = model_name
        # The verified official model is named for the model, not the runtime (model_files.MODEL_NAME).
        self.name = name or f"sentence-transformers:{model_name}"
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


class OnnxEmbedder(OnnxEncoder):
    """The official all-MiniLM-L6-v2 on ONNX Runtime: tokenizer.json checked against the official
    hash, model.onnx against the hash recorded in onnx.json when it was exported and checked."""

    def __init__(
        self,
        folder: Path | str,
        *,
        onnx_file: Path | str | None = None,
        expected_sha256: str | None = "recorded",
        threads: int | None = None,
        batch_size: int = 64,
        batch_tokens: int = 1024,
    ) -> None:
        """`expected_sha256="recorded"` checks model.onnx against onnx.json; None skips (export check)."""
        self.folder = Path(folder)
        self.expected_sha256 = expected_sha256
        super().__init__(
            self.folder / "tokenizer.json",
            Path(onnx_file) if onnx_file else self.folder / model_files.ONNX_FILE,
            tokenizer_sha256=model_files.FILES["tokenizer.json"][0],
            name=model_files.MODEL_NAME,
            fix_hint=model_files.FIX_HINT,
            threads=threads,
            batch_size=batch_size,
            batch_tokens=batch_tokens,
        )

    def expected_onnx(self) -> tuple[str | None, int | None]:
        if self.expected_sha256 != "recorded":
            return self.expected_sha256, None
        try:
            record = model_files.read_onnx_record(self.folder)
        except model_files.ModelFileError as err:
            raise self._unavailable(str(err)) from err
        return record["sha256"], record["bytes"]


def make_embedder(
    kind: str, model_name: str, *, models_dir: Path | str | None = None, threads: int | None = None
) -> Embeddings:
    """The embedder the settings ask for.

    The official model (`model_name` is its id, the default, or its verified folder) is checked
    against its official hashes first, then run on ONNX Runtime, or on sentence-transformers when
    the ONNX file is missing or unusable. `auto` never raises: when the model is missing or fails
    verification it logs one warning (what is wrong, and that `assistant model fetch` fixes it) and
    uses the hashing embedder. Any other model name or folder goes to sentence-transformers, as a
    deployer's own choice. `onnx` and `sentence-transformers` raise EmbedderUnavailable instead.
    `threads`: ONNX Runtime's threads for one encoding (default: the cores, up to 4).
    """
    if kind == "hashing":
        return HashingEmbedder()
    folder = _official_folder(model_name, models_dir)
    if folder is None:
        if kind == "onnx":
            raise EmbedderUnavailable(
                f"ASSISTANT_EMBEDDER=onnx runs only the verified {model_files.MODEL_ID}, not '{model_name}'. "
                "Use ASSISTANT_EMBEDDER=sentence-transformers for another model."
            )
        return _deployers_model(kind, model_name)
    try:
        model_files.verify(folder)
    except model_files.ModelFileError as err:
        message = f"The semantic model cannot be used: {err} {model_files.FIX_HINT}"
        if kind != "auto":
            raise EmbedderUnavailable(message) from err
        log.warning("%s Using the built-in hashing embedder (lexical n-grams) until then.", message)
        return HashingEmbedder()
    if kind in ("auto", "onnx"):
        try:
            return OnnxEmbedder(folder, threads=threads).load()
        except EmbedderUnavailable as err:
            if kind == "onnx":
                raise
            log.warning("%s Using sentence-transformers on torch meanwhile (slower to start).", err)
    embedder = SentenceTransformerEmbedder(str(folder), name=model_files.MODEL_NAME)
    try:
        embedder.load()
    except EmbedderUnavailable as err:
        if kind != "auto":
            raise
        log.warning("%s Using the hashing embedder instead.", err)
        return HashingEmbedder()
    return embedder


def embedder_for(settings) -> tuple[Embeddings, reader_files.ReaderStatus]:
    """The embedder the settings ask for, and whether the reader is it.

    With the official model configured (the default), the reader trained here is used instead
    when its folder verifies; otherwise one warning says why, and the base model answers as before.
    """
    s = settings
    wanted = s.reader == "auto" and s.embedder in ("auto", "onnx")
    if wanted and _official_folder(s.model_name, s.models_dir) is not None:
        sha256 = s.reader_sha256 or reader_files.SHIPPED_SHA256
        try:
            reader = reader_files.load_reader(s.reader_dir, sha256, s.embed_threads)
            detail = f"{reader.name}, verified, from {s.reader_dir}"
            return reader, reader_files.ReaderStatus(True, detail)
        except EmbedderUnavailable as err:
            log.warning("The reader cannot be used: %s The base model answers meanwhile.", err)
            status = reader_files.ReaderStatus(False, f"not in use: {err}")
    elif s.reader == "off":
        status = reader_files.ReaderStatus(False, "off (ASSISTANT_READER=off)")
    else:
        status = reader_files.ReaderStatus(False, f"not used with ASSISTANT_EMBEDDER={s.embedder} and this model")
    embedder = make_embedder(s.embedder, s.model_name, models_dir=s.models_dir, threads=s.embed_threads)
    return embedder, status


def _official_folder(model_name: str, models_dir: Path | str | None) -> Path | None:
    """The verified-model folder when `model_name` means the official model, else None."""
    default = model_files.default_folder(models_dir)
    if model_name in (model_files.MODEL_ID, model_files.FOLDER_NAME, model_files.MODEL_NAME):
        return default
    given = Path(model_name).expanduser()
    if given.is_dir() and given.resolve() == default.resolve():
        return default
    return None


def _deployers_model(kind: str, model_name: str) -> Embeddings:
    """Another sentence-transformers model, by name or folder: loaded as it is, not verified."""
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
