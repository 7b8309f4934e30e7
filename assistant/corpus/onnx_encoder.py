"""A sentence encoder on ONNX Runtime: `tokenizers` for the word pieces, numpy for the pooling.

Any BERT-style model exported to ONNX (last hidden state out; mean pooling and L2 done here):
the official all-MiniLM-L6-v2 (`assistant.corpus.model_files`) and the reader trained from it
(`assistant.corpus.reader_files`). The two files it loads are checked at load against the
hashes it is given: the tokenizer's bytes are read once, checked, then parsed from those bytes;
the model file is hashed before ONNX Runtime opens it (`assistant.files`). It knows nothing about where hashes come
from, so the modules that do can both use it without importing each other.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.files import check_file, checked_bytes

#: The model's own max_seq_length (all-MiniLM-L6-v2's sentence_bert_config.json): longer texts are truncated.
MAX_SEQ_LENGTH = 256
QUERY_MAX_TOKENS = 64  # about 45 words; the longest question of the evaluation sets is 30 word pieces


class EmbedderUnavailable(Exception):
    """The configured embedder cannot be used here; the message says what to do."""


class OnnxEncoder(Embeddings):
    """Mean-pooled, L2-normalised vectors from an ONNX export of a BERT-style sentence model.

    Same vectors as sentence-transformers (cosine > 0.9999; checked when a file is exported) at a
    tenth of its import time and less than half its memory.
    """

    def __init__(
        self,
        tokenizer_file: Path | str,
        onnx_file: Path | str,
        *,
        tokenizer_sha256: str | None,
        onnx_sha256: str | None = None,
        onnx_bytes: int | None = None,
        name: str = "onnx",
        fix_hint: str = "",
        threads: int | None = None,
        batch_size: int = 64,
        batch_tokens: int = 1024,
    ) -> None:
        """`onnx_sha256=None` skips the model file's check (only for a file being exported and checked)."""
        self.tokenizer_file = Path(tokenizer_file)
        self.onnx_file = Path(onnx_file)
        self.tokenizer_sha256 = tokenizer_sha256
        self.onnx_sha256, self.onnx_bytes = onnx_sha256, onnx_bytes
        self.name = name
        self.fix_hint = fix_hint
        self.threads = threads or default_threads()
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def load(self) -> OnnxEncoder:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._load()
        return self

    def expected_onnx(self) -> tuple[str | None, int | None]:
        """(sha256, bytes) the model file must have; a subclass may read them from a record."""
        return self.onnx_sha256, self.onnx_bytes

    def _unavailable(self, message: str) -> EmbedderUnavailable:
        return EmbedderUnavailable(f"{message} {self.fix_hint}".strip())

    def _load(self) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as err:
            raise EmbedderUnavailable(f"The ONNX runtime is not installed here ({err.name}).") from err
        tokenizer_bytes = checked_bytes(self.tokenizer_file, self.tokenizer_sha256, self._unavailable)
        sha256, size = self.expected_onnx()
        if sha256 is not None:
            check_file(self.onnx_file.parent, self.onnx_file.name, sha256, size, self._unavailable)
        try:
            tokenizer = Tokenizer.from_str(tokenizer_bytes.decode("utf-8"))
            # tokenizer.json ships with fixed padding and truncation at 128; the model's own setting
            # (sentence_bert_config.json) is 256, and batches are padded here, to their longest.
            tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
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
            raise self._unavailable(
                f"The ONNX model {self.onnx_file} could not be loaded ({type(err).__name__}: {err})."
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


def default_threads() -> int:
    """All the cores this process may use, at most 4 (the model is too small to gain from more)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))
