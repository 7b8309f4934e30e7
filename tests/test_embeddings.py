import logging

import numpy as np
import pytest

from assistant.corpus import model_files
from assistant.corpus.embeddings import HashingEmbedder, OnnxEmbedder, SentenceTransformerEmbedder, make_embedder
from assistant.corpus.index import Manifest, ingest, open_client, open_store
from assistant.service import Service
from tests.conftest import ROOT, make_settings


def test_hashing_embedder_is_deterministic_and_tolerates_typos():
    e = HashingEmbedder()
    q = np.array(e.embed_query("qualify onto the dynamic framework"))
    docs = np.array(
        e.embed_documents(
            ["Qualifying onto the Dynamic Framework", "qualfy onto the dynamc framewrk", "weather in Paris"]
        )
    )
    sims = docs @ q
    assert sims[0] > sims[2] and sims[1] > sims[2]
    assert np.allclose(q, HashingEmbedder().embed_query("qualify onto the dynamic framework"))


def test_auto_falls_back_to_hashing_without_the_model_and_says_so(caplog):
    with caplog.at_level(logging.WARNING):
        e = make_embedder("auto", "no-such-org/no-such-model")
    assert isinstance(e, HashingEmbedder)
    assert "not available" in caplog.text


def test_sentence_transformer_model_through_chroma_persisted_and_reopened(tmp_path, tiny_model, corpus_copy):
    embedder = make_embedder("auto", str(tiny_model))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    index = tmp_path / "index"
    summary = ingest(corpus_copy, index, embedder)
    assert summary.added == summary.chunks
    manifest = Manifest.read(index)
    assert manifest.embedder == f"sentence-transformers:{tiny_model}"

    reopened = SentenceTransformerEmbedder(str(tiny_model))
    store = open_store(open_client(index), manifest.collection, reopened)
    hits = store.similarity_search_by_vector_with_relevance_scores(reopened.embed_query("cyber essentials plus"), k=3)
    assert len(hits) == 3 and all(h[0].id in {c.chunk_id for c in manifest.chunks} for h in hits)


def test_asking_with_a_different_embedder_gives_a_clear_message(tmp_path, tiny_model):
    built = Service(make_settings(tmp_path, embedder="hashing"))
    built.ingest()
    other = Service(make_settings(tmp_path, embedder="sentence-transformers", model_name=str(tiny_model)))
    answer = other.ask("What is IASME Gold?")
    assert answer.status.value == "error" and "assistant ingest" in answer.text
    other.ensure_index()  # serve and ingest rebuild it
    assert other.ask("What is IASME Gold?").status.value != "error"


def test_a_model_that_cannot_load_is_one_clear_message():
    e = SentenceTransformerEmbedder("/no/such/folder")
    try:
        e.embed_query("x")
    except Exception as err:
        assert "ASSISTANT_EMBEDDER=hashing" in str(err)
    else:
        raise AssertionError("expected a failure")


# --- the official model, verified (fetched by `make install`) -----------------------------------

GRANTS_QUESTION = "How do I sign up for the grants portal?"
JAGGAER = "To register on the grants portal, you must first log onto the Jaggaer system"
CYBER = "Cyber Essentials is a self-assessment"


@pytest.fixture(scope="module")
def official():
    folder = model_files.default_folder(ROOT / "models")
    if not model_files.is_verified(folder):
        pytest.skip(f"the verified model is not in {folder}: run `assistant model fetch` (make install does)")
    return folder


def test_auto_uses_onnx_for_the_verified_model_without_a_warning(official, caplog):
    with caplog.at_level(logging.WARNING):
        embedder = make_embedder("auto", model_files.MODEL_ID, models_dir=official.parent)
    assert isinstance(embedder, OnnxEmbedder) and caplog.text == ""
    assert embedder.name == model_files.MODEL_NAME == "all-MiniLM-L6-v2@1110a24"


def test_onnx_vectors_match_sentence_transformers_and_rank_by_meaning(official):
    from sentence_transformers import SentenceTransformer

    texts = [GRANTS_QUESTION, JAGGAER, CYBER, "Ça coûte combien ? £1,000", "framework " * 400, "a"]
    onnx = OnnxEmbedder(official)
    ours = np.array(onnx.embed_documents(texts))
    reference = SentenceTransformer(str(official), device="cpu").encode(texts, normalize_embeddings=True)
    assert ours.shape == (6, 384) and ((ours * reference).sum(axis=1) > 0.9999).all()
    # Batches are sorted by length inside; the answer keeps the caller's order, and a query agrees.
    assert np.allclose(onnx.embed_query(CYBER), ours[2], atol=1e-5)

    torch_path = make_embedder("sentence-transformers", model_files.MODEL_ID, models_dir=official.parent)
    assert torch_path.name == onnx.name  # one index serves both runtimes

    q = np.array(onnx.embed_query(GRANTS_QUESTION))
    jaggaer, cyber = np.array(onnx.embed_documents([JAGGAER, CYBER]))
    assert q @ jaggaer > q @ cyber + 0.2
