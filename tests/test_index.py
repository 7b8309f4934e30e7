import pytest

from assistant.corpus.embeddings import HashingEmbedder
from assistant.corpus.index import IndexError_, Manifest, ingest, open_client


class CountingEmbedder(HashingEmbedder):
    def __init__(self):
        super().__init__()
        self.embedded = 0

    def embed_documents(self, texts):
        self.embedded += len(texts)
        return super().embed_documents(texts)


def test_ingest_is_incremental(tmp_path, corpus_copy):
    index = tmp_path / "index"
    emb = CountingEmbedder()
    first = ingest(corpus_copy, index, emb)
    # Every passage, and every quotable sentence or list, is embedded once.
    assert first.added == first.chunks > 20 and first.units_embedded > 200
    assert emb.embedded == first.chunks + first.units_embedded

    emb.embedded = 0
    again = ingest(corpus_copy, index, emb)
    assert (again.added, again.unchanged, again.removed, again.units_embedded, emb.embedded) == (
        0,
        first.chunks,
        0,
        0,
        0,
    )

    doc = corpus_copy / "probation-services.md"
    doc.write_text(doc.read_text().replace("There is no cost to qualify", "There is a fee to qualify"))
    (corpus_copy / "extra.md").write_text(
        "---\ntitle: Extra\nurl: https://example.org/e\n---\n## New\n\nA new passage.\n"
    )
    changed = ingest(corpus_copy, index, emb)
    # Two passages and only the sentences that changed or are new: the rest are known by their text.
    assert changed.added == 2 and changed.removed == 1 and changed.units_embedded == 2
    assert emb.embedded == 4

    (corpus_copy / "extra.md").unlink()
    removed = ingest(corpus_copy, index, emb)
    assert removed.removed == 1 and removed.added == 0
    manifest = Manifest.read(index)
    assert not any(c.doc_id == "extra.md" for c in manifest.chunks)
    stored = open_client(index).get_collection(manifest.collection).count()
    assert stored == len(manifest.chunks)


def test_broken_documents_are_skipped_and_the_rest_indexed(tmp_path, corpus_copy):
    (corpus_copy / "broken.docx").write_bytes(b"garbage")
    summary = ingest(corpus_copy, tmp_path / "index", HashingEmbedder())
    assert summary.documents == 1 and summary.skipped[0][0] == "broken.docx"
    assert any("broken.docx" in line for line in summary.lines())


def test_a_failed_ingest_leaves_the_previous_index_usable(tmp_path, corpus_copy):
    index = tmp_path / "index"
    ingest(corpus_copy, index, HashingEmbedder())
    before = Manifest.read(index)

    class Failing(HashingEmbedder):
        def embed_documents(self, texts):
            raise RuntimeError("disk full")

    (corpus_copy / "extra.md").write_text("---\ntitle: Extra\nurl: https://e.org\n---\nNew text here.\n")
    with pytest.raises(RuntimeError):
        ingest(corpus_copy, index, Failing())
    after = Manifest.read(index)
    assert [c.chunk_id for c in after.chunks] == [c.chunk_id for c in before.chunks]

    for f in corpus_copy.iterdir():
        f.unlink()
    with pytest.raises(IndexError_, match="left as it was"):
        ingest(corpus_copy, index, HashingEmbedder())
    assert len(Manifest.read(index).chunks) == len(before.chunks)


def test_a_damaged_sentence_vector_file_is_recomputed_not_fatal(tmp_path, corpus_copy):
    from assistant.answering.answer import Status
    from assistant.service import Service
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, corpus_copy)
    Service(settings).ingest()
    (settings.index_dir / "units.npz").write_bytes(b"not a numpy file")
    answer = Service(settings).ask("What is IASME Gold?")
    assert answer.status is Status.ANSWERED and "IASME" in answer.text


def test_each_document_keeps_the_time_its_content_was_first_indexed(tmp_path, corpus_copy):
    """The console's "last indexed" is per document: changing one does not re-date the others."""
    import time

    index = tmp_path / "index"
    (corpus_copy / "extra.md").write_text("---\ntitle: Extra\nurl: https://example.org/e\n---\n## New\n\nA passage.\n")
    ingest(corpus_copy, index, HashingEmbedder())
    first = Manifest.read(index).documents
    assert set(first) == {"probation-services.md", "extra.md"}
    time.sleep(0.05)
    (corpus_copy / "extra.md").write_text("---\ntitle: Extra\nurl: https://example.org/e\n---\n## New\n\nChanged.\n")
    ingest(corpus_copy, index, HashingEmbedder())
    second = Manifest.read(index).documents
    assert second["probation-services.md"] == first["probation-services.md"]
    assert second["extra.md"]["indexed_at"] > first["extra.md"]["indexed_at"]
