"""The shipped reader: verified by its pinned hash before first use, answering the README's
questions; when it is missing or altered, the base model answers, one warning says why, and
/healthz shows it."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from assistant.corpus import model_files, reader_files
from assistant.corpus.embeddings import OnnxEmbedder, embedder_for
from assistant.files import sha256_file
from tests.conftest import ROOT, make_settings

READER = ROOT / "reader"
README_QUESTIONS = (
    ("Does it cost anything to qualify onto the Dynamic Framework?", "no cost"),
    ("What is IASME Gold?", "iasme"),
)


@pytest.fixture(scope="module")
def base_model():
    if not model_files.is_verified(model_files.default_folder(ROOT / "models")):
        pytest.skip("the verified base model is not installed: run `assistant model fetch` (make install does)")


def test_the_shipped_reader_matches_its_pinned_hash_and_its_record():
    record = json.loads((READER / "reader.json").read_text(encoding="utf-8"))
    assert reader_files.SHIPPED_SHA256, "no hash is pinned for the shipped reader"
    assert sha256_file(READER / "reader.json") == reader_files.SHIPPED_SHA256  # the pin covers the record...
    assert record["model"]["sha256"] == sha256_file(READER / "model.onnx")  # ...and the record the model
    assert record["base"]["weights_sha256"] == model_files.FILES["model.safetensors"][0]
    assert len(record["data"]["sha256"]) == 64 and record["dev"]["onnx_int8"]["top3"] > record["dev"]["base"]["top3"]
    files = sum(p.stat().st_size for p in READER.iterdir() if p.is_file())
    assert files <= 50_000_000, f"the reader's files take {files:,} bytes; the limit is 50 MB"
    encoder = reader_files.load_reader(READER, reader_files.SHIPPED_SHA256)
    assert encoder.name == reader_files.reader_name(record["model"]["sha256"])


def test_the_reader_is_used_by_default_and_named_where_deployers_look(service, base_model):
    assert reader_files.is_reader(service.embedder.name)
    assert service.health()["reader"] == {"ok": True, "detail": service.reader_status.detail}
    for question, words in README_QUESTIONS:
        answer = service.ask(question)
        assert answer.status.value == "answered" and answer.citations, question
        assert words in answer.text.lower(), (question, answer.text)
    assert service.ask("What is the capital of France?").status.value.startswith("declined")


def test_an_altered_reader_is_refused_once_and_the_base_model_answers(tmp_path, caplog, base_model):
    folder = tmp_path / "reader"
    shutil.copytree(READER, folder)
    data = bytearray((folder / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "model.onnx").write_bytes(bytes(data))
    settings = make_settings(tmp_path, embedder="auto", reader_dir=folder, models_dir=ROOT / "models")
    with caplog.at_level(logging.WARNING):
        embedder, status = embedder_for(settings)
    assert isinstance(embedder, OnnxEmbedder) and embedder.name == model_files.MODEL_NAME
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "model.onnx" in warnings[0].getMessage() and not warnings[0].exc_info
    assert not status.ok and "does not match" in status.detail


def test_a_missing_reader_or_reader_off_leaves_the_base_model(tmp_path, caplog, base_model):
    missing = make_settings(tmp_path, embedder="auto", reader_dir=tmp_path / "none", models_dir=ROOT / "models")
    with caplog.at_level(logging.WARNING):
        embedder, status = embedder_for(missing)
    assert embedder.name == model_files.MODEL_NAME and not status.ok and "not in" in status.detail
    off = make_settings(tmp_path, embedder="auto", reader="off", models_dir=ROOT / "models")
    embedder, status = embedder_for(off)
    assert embedder.name == model_files.MODEL_NAME and status.detail.startswith("off")


def test_a_deployers_own_reader_is_used_with_its_own_hash(tmp_path, base_model):
    folder = tmp_path / "mine"
    shutil.copytree(READER, folder)
    sha = reader_files.SHIPPED_SHA256
    settings = make_settings(
        tmp_path, embedder="auto", reader_dir=folder, reader_sha256=sha, models_dir=ROOT / "models"
    )
    embedder, status = embedder_for(settings)
    assert status.ok and embedder.name == reader_files.reader_name(reader_files.read_record(folder)["model"]["sha256"])
    wrong = make_settings(
        tmp_path, embedder="auto", reader_dir=folder, reader_sha256="0" * 64, models_dir=ROOT / "models"
    )
    embedder, status = embedder_for(wrong)
    assert not status.ok and embedder.name == model_files.MODEL_NAME
