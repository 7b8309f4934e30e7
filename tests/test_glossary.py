from assistant.corpus.chunking import SECTION_SEPARATOR, chunk_document
from assistant.corpus.documents import load_corpus
from assistant.corpus.glossary import Glossary
from tests.conftest import ROOT


def test_every_glossary_entry_points_to_where_the_corpus_defines_it():
    glossary = Glossary.load(ROOT / "corpus" / "glossary.yaml")
    names = {e.term for e in glossary.entries}
    for required in [
        "TOM",
        "RPD",
        "PDU",
        "ROIF",
        "ITT",
        "PQQ",
        "SQ",
        "CRC",
        "NPS",
        "HMPPS",
        "MoJ",
        "GMCA",
        "RR3",
        "IASME",
        "CE+",
    ]:
        assert required in names
    doc = next(d for d in load_corpus(ROOT / "corpus").documents if d.doc_id == glossary.document)
    by_section = {}
    for c in chunk_document(doc):
        by_section.setdefault(c.section.replace(" > ", SECTION_SEPARATOR), []).append(c.text)
    for entry in glossary.entries:
        assert entry.section in by_section, entry.term
        assert any(entry.quote in t for t in by_section[entry.section]), entry.term


def test_expansion_matches_whole_words_only():
    g = Glossary.load(ROOT / "corpus" / "glossary.yaml")
    assert "Cyber Essentials Plus" in g.expand("do we need ce+?")
    assert g.expand("customer") == "customer"  # no 'CE' inside words
