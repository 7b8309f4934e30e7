from urllib.parse import unquote

from assistant.corpus.chunking import chunk_document, parse_blocks, split_sections, text_fragment_link
from assistant.corpus.documents import load_corpus
from tests.conftest import ROOT


def corpus_chunks():
    return [c for d in load_corpus(ROOT / "corpus").documents for c in chunk_document(d)]


def test_a_list_stays_whole_with_the_sentence_that_introduces_it():
    chunks = corpus_chunks()
    holder = [c for c in chunks if "To qualify, you need to:" in c.text]
    assert len(holder) == 1
    text = holder[0].text
    assert "- Demonstrate experience" in text and "- State your geographic areas" in text
    # the nested 14 service categories stay inside the item that introduces them
    jargon = next(c for c in chunks if "There are 14 service categories:\n  - Accommodation" in c.text)
    assert "  - Service User Involvement" in jargon.text


def test_chunks_carry_their_heading_path_and_are_not_cut_mid_sentence():
    chunks = corpus_chunks()
    sections = {c.section for c in chunks}
    assert "Cyber security information > IASME Governance Audited (IASME Gold)" in sections
    assert "Future commissioning opportunities > Qualifying onto the Dynamic Framework" in sections
    source_lines = set((ROOT / "corpus" / "probation-services.md").read_text().splitlines())
    for c in chunks:
        # every chunk starts and ends on whole paragraphs or list items of the document
        lines = c.text.splitlines()
        assert lines[0] in source_lines and lines[-1] in source_lines, c.text[:80]


def test_ids_are_stable_across_runs_and_change_with_the_text(tmp_path):
    first = [c.chunk_id for c in corpus_chunks()]
    assert first == [c.chunk_id for c in corpus_chunks()]
    assert len(set(first)) == len(first)
    doc = load_corpus(ROOT / "corpus").documents[0]
    edited = type(doc)(**{**doc.__dict__, "text": doc.text.replace("There is no cost", "There is a small cost")})
    changed = {c.chunk_id for c in chunk_document(edited)}
    assert len(set(first) - changed) == 1


def test_deep_link_is_a_text_fragment_of_the_first_sentence():
    chunk = next(c for c in corpus_chunks() if c.section.endswith("Cyber Essentials Plus"))
    assert chunk.link.startswith("https://www.clinks.org/our-work/probation-services#:~:text=")
    start, end = unquote(chunk.link.split("#:~:text=")[1]).split(",")
    sentence = "To qualify for most contracts with the Ministry of Justice (MoJ), Cyber Essentials Plus is the level required to provide services."
    assert sentence.startswith(start) and sentence.endswith(end)


def test_fragment_escapes_its_own_syntax():
    link = text_fragment_link("https://x.org/p", "Call-off, and more")
    assert link == "https://x.org/p#:~:text=Call%2Doff%2C%20and%20more"


def test_parse_blocks_and_sections():
    md = "# A\n\nIntro:\n- one\n  - sub\n- two\n\n## B\n\nPlain. Text."
    sections = split_sections(md)
    assert [s[0] for s in sections] == [("A",), ("A", "B")]
    blocks = parse_blocks(sections[0][1])
    assert blocks[0].intro == "Intro:" and [i.text for i in blocks[0].items] == ["one", "two"]
    assert blocks[0].items[0].children == ["sub"]
