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
import threading
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.corpus import model_files
from assistant.text import normalise, terms

log = logging.getLogger(__name__)


def embedder_kind(embedder_name: str) -> str:
    """'hashing' for the lexical fallback, 'semantic' for a model: their cosines mean different things."""
    return "hashing" if embedder_name.startswith("hashing") else "semantic"


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


class OnnxEmbedder(Embeddings):
    """all-MiniLM-L6-v2 on ONNX Runtime: `tokenizers` for the word pieces, numpy for the pooling.

    Same vectors as sentence-transformers (cosine > 0.9999; checked when the file is exported)
    at a tenth of its import time and less than half its memory. The two files it loads are checked
    at load: tokenizer.json against the official hash (read once, checked, then parsed from those
    bytes), model.onnx against the hash recorded in onnx.json when it was exported and checked.
    """

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
        self.onnx_file = Path(onnx_file) if onnx_file else self.folder / model_files.ONNX_FILE
        self.expected_sha256 = expected_sha256
        self.threads = threads or _default_threads()
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.name = model_files.MODEL_NAME
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def load(self) -> OnnxEmbedder:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._load()
        return self

    def _load(self) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as err:
            raise EmbedderUnavailable(f"The ONNX runtime is not installed here ({err.name}).") from err
        try:
            tokenizer_bytes = _checked_bytes(self.folder / "tokenizer.json", *model_files.FILES["tokenizer.json"])
            expected = self.expected_sha256
            if expected == "recorded":
                record = model_files.read_onnx_record(self.folder)
                model_files.check_file(self.onnx_file.parent, self.onnx_file.name, record["sha256"], record["bytes"])
            elif expected is not None:
                model_files.check_file(self.onnx_file.parent, self.onnx_file.name, expected, None)
        except model_files.ModelFileError as err:
            raise EmbedderUnavailable(f"{err} {model_files.FIX_HINT}") from err
        try:
            tokenizer = Tokenizer.from_str(tokenizer_bytes.decode("utf-8"))
            # tokenizer.json ships with fixed padding and truncation at 128; the model's own setting
            # (sentence_bert_config.json) is 256, and batches are padded here, to their longest.
            tokenizer.enable_truncation(max_length=model_files.MAX_SEQ_LENGTH)
            tokenizer.no_padding()
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3
            # Idle threads must not spin waiting for work: under many questions at once, spinning
            # burnt a third of the CPU (22 -> 14 ms of CPU per answer, measured here).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.add_session_config_entry("session.inter_op.allow_spinning", "0")
            # By path, not from the checked bytes: ONNX Runtime keeps a copy of a byte buffer (+90 MB).
            session = ort.InferenceSession(str(self.onnx_file), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # a corrupt file or an incompatible runtime: one message
            raise EmbedderUnavailable(
                f"The ONNX model in {self.folder} could not be loaded ({type(err).__name__}: {err}). "
                f"{model_files.FIX_HINT}"
            ) from err
        self._tokenizer, self._session = tokenizer, session

    def _encode(self, encodings: list) -> np.ndarray:
        """One padded batch through the model, then mean pooling over the attention mask and L2."""
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = e.ids, e.attention_mask, e.type_ids
        (hidden,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """In batches of similar length (sorted), so little of each batch is padding.

        A batch holds up to `batch_size` texts and `batch_tokens` padded tokens: 64 short sentences,
        or 4 passages of 256 tokens. Measured here, bigger batches of passages are no faster but ONNX
        Runtime keeps the memory of the largest one (32 passages of 256 tokens: +900 MB).
        """
        if not texts:
            return []
        self.load()
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        batch: list[int] = []
        for i in order:  # ascending length: the newest text is the longest of its batch
            if batch and (
                len(batch) == self.batch_size or (len(batch) + 1) * len(encodings[i].ids) > self.batch_tokens
            ):
                out[batch] = self._encode([encodings[j] for j in batch])
                batch = []
            batch.append(i)
        out[batch] = self._encode([encodings[j] for j in batch])
        return out.tolist()

    def embed_query(self, text: str) -> list[float]:
        self.load()
        return self._encode([self._tokenizer.encode(text)])[0].tolist()

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Question vectors, each from at most `QUERY_MAX_TOKENS` word pieces: a real question is far
        shorter, and the model's cost grows with the square of the length, so pasted text must not
        cost more than a long question."""
        self.load()
        encodings = [_Truncated.of(e, QUERY_MAX_TOKENS) for e in self._tokenizer.encode_batch(list(texts))]
        return self._encode(encodings).tolist()


QUERY_MAX_TOKENS = 64  # about 45 words; the longest question of the evaluation sets is 30 word pieces


class _Truncated:
    """An encoding cut to `limit` word pieces, its closing [SEP] kept."""

    def __init__(self, ids, attention_mask, type_ids) -> None:
        self.ids, self.attention_mask, self.type_ids = ids, attention_mask, type_ids

    @classmethod
    def of(cls, encoding, limit: int):
        ids, mask, types = encoding.ids, encoding.attention_mask, encoding.type_ids
        if len(ids) <= limit:
            return encoding
        return cls(ids[: limit - 1] + ids[-1:], mask[: limit - 1] + mask[-1:], types[: limit - 1] + types[-1:])


def _checked_bytes(path: Path, sha256: str, size: int | None) -> bytes:
    """The file's bytes, if they have the official hash: the bytes checked are the bytes used."""
    name = f"'{path.name}' in {path.parent}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise model_files.ModelFileError(f"Model file {name} is missing.") from None
    except OSError as err:
        raise model_files.ModelFileError(f"Model file {name} cannot be read ({err.strerror or err}).") from err
    if size is not None and len(data) != size:
        raise model_files.ModelFileError(
            f"Model file {name} has the wrong size ({len(data):,} bytes, expected {size:,})."
        )
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise model_files.ModelFileError(f"Model file {name} does not match the official SHA-256: it was altered.")
    return data


def _default_threads() -> int:
    """All the cores this process may use, at most 4 (the model is too small to gain from more)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


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
