"""Hybrid retrieval on paraphrased questions across the four topics: the passage that answers
must be among the first three."""

import pytest

PARAPHRASES = [
    # jargon
    ("what's the TOM", "The Target Operating Model (TOM)"),
    ("meaning of market warming", "Market warming is the stage"),
    ("roif??", "Regional Outcomes and Innovations Fund (ROIF)"),
    ("what's an RPD in charge of", "Regional Probation Director (RPD) who is responsible"),
    ("was bravo renamed", "Jaggaer (formerly known as Bravo)"),
    # qualifying
    ("is qualfying onto the framework free", "There is no cost to qualify"),
    ("what happens if my application gets rejected", "feedback on an unsuccessful application"),
    ("where do i find the selection questionnaire on the portal", "PQQ_205"),
    # cyber security
    ("minimum cyber level to win a call-off contract", "Cyber Essentials Basic is the minimum requirement"),
    ("do I need CE+ for MoJ work", "Cyber Essentials Plus is the level required"),
    ("how often is iasme gold audited", "A full audit takes place every three years"),
    # grants
    ("how do i sign up to the probation grants portal", "To register on the grants portal"),
    ("are framework members already registered for grants", "will not automatically be registered for the portal"),
]


@pytest.mark.parametrize("question,evidence", PARAPHRASES)
def test_the_answering_passage_is_in_the_top_three(service, question, evidence):
    passages = service.deps().retriever.search(question, 3)
    assert any(evidence in p.chunk.text for p in passages), [p.chunk.section for p in passages]


def test_glossary_expansion_finds_the_long_form(service):
    retriever = service.deps().retriever
    assert "plus" in retriever.query_terms("CE+") and "jaggaer" in retriever.query_terms("bravo")


def test_an_acronym_in_the_plural_is_the_same_word():
    from assistant.text import terms

    assert terms("the 12 RPDs and their PQQ's") == terms("the 12 RPD and their PQQ")
    assert "rpd" in terms("Regional Probation Directors (RPDs)")


def test_what_the_last_answer_quoted_stays_in_view(service):
    """A follow-up whose own words find nothing still sees the passage the last answer quoted."""
    retriever = service.deps().retriever
    first = service.ask("we got knocked back trying to get on the framework, do we get told why")
    quoted = retriever.quoted_by(first.text)
    assert quoted
    passages = retriever.search("how many more goes do we get", 8, follow_from=quoted)
    assert quoted[0] in [p.chunk.chunk_id for p in passages]


def test_bm25_over_postings_gives_rank_bm25s_numbers(service):
    """The search reads only the passages that hold each term; the scores must not change."""
    import numpy as np

    retriever = service.deps().retriever
    queries = [
        retriever.query_terms("is qualfying onto the framework free"),
        retriever.query_terms("CE+ cost cost"),  # a term twice counts twice, as in rank_bm25
        ["notawordintheguidance", "probat"],
        [],
    ]
    for query in queries:
        assert np.array_equal(retriever.bm25_scores(query), retriever.bm25.get_scores(query)), query


def test_the_vector_search_runs_on_one_blas_thread(service):
    """Threaded, the passage product is no faster and OpenBLAS's threads then spin after each
    question, taking a core from the rest of the answer (at 100x the corpus: twice as slow)."""
    from threadpoolctl import threadpool_info

    service.deps().retriever.search("what is IASME Gold", 3)
    assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")
