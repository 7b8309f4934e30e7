"""The reader: all-MiniLM-L6-v2 fine-tuned here on questions in users' words (`reader/`), loaded
only after its hash matches.

`assistant train-reader` (evals/reader/) writes the folder: `model.onnx` (the reader, int8),
the official `tokenizer.json`, `reader.json` (how it was made: base and data hashes, settings,
dev figures, and the model file's SHA-256) and a card (README.md). The SHA-256 of reader.json is pinned here, and reader.json pins the files: one hash
verifies the whole folder. A deployer who trains or is given another reader points
`ASSISTANT_READER_DIR` at its folder and `ASSISTANT_READER_SHA256` at its reader.json's hash.
When the folder is missing or fails a hash, the assistant answers with the base model, says so
once in the log, and `/healthz` shows it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from assistant.corpus import model_files
from assistant.corpus.onnx_encoder import EmbedderUnavailable, OnnxEncoder
from assistant.files import checked_bytes

NAME = "clinks-reader"
RECORD = "reader.json"
#: sha256 of reader/reader.json as `assistant train-reader` wrote it (it pins the model files).
SHIPPED_SHA256 = "9855d044cc4500e43e06e69627af5f30ae77bd33b2dadefb423bb6026f311c8c"
FIX_HINT = (
    "Restore the reader/ folder from the repository, or set ASSISTANT_READER_SHA256 to the hash "
    "`assistant train-reader` printed for your own, or set ASSISTANT_READER=off."
)


def reader_name(sha256: str) -> str:
    """How indexes and reports name the reader's vectors: its name and the hash's first 12 digits."""
    return f"{NAME}@{sha256[:12]}"


def is_reader(embedder_name: str) -> bool:
    return embedder_name.startswith(f"{NAME}@")


@dataclass(frozen=True)
class ReaderStatus:
    """Whether the reader answers, or why the base model does (for the log and /healthz)."""

    ok: bool
    detail: str


def load_reader(folder: Path | str, sha256: str, threads: int | None = None) -> OnnxEncoder:
    """The reader, its files verified, loaded; or EmbedderUnavailable saying what is wrong."""
    folder = Path(folder)
    if not sha256:
        raise EmbedderUnavailable(f"No hash is pinned for the reader in {folder}. {FIX_HINT}")
    if not (folder / RECORD).is_file():
        raise EmbedderUnavailable(f"The reader's {RECORD} is not in {folder}. {FIX_HINT}")

    def error(message: str) -> EmbedderUnavailable:
        return EmbedderUnavailable(f"{message} {FIX_HINT}")

    try:
        record = json.loads(checked_bytes(folder / RECORD, sha256, error))
        model_sha256 = record["model"]["sha256"]
    except (ValueError, KeyError, TypeError) as err:
        raise error(f"The reader's {RECORD} in {folder} is not a reader record ({err}).") from err
    tokenizer_sha256 = model_files.FILES["tokenizer.json"][0]  # the official tokenizer, unchanged
    return OnnxEncoder(
        folder / "tokenizer.json",
        folder / model_files.ONNX_FILE,
        tokenizer_sha256=tokenizer_sha256,
        onnx_sha256=model_sha256,
        name=reader_name(model_sha256),
        fix_hint=FIX_HINT,
        threads=threads,
    ).load()


def read_record(folder: Path | str) -> dict:
    """reader.json (how the reader was made), or {} when it is missing or unreadable."""
    try:
        return json.loads((Path(folder) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
