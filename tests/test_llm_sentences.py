"""The model's reply cut into cited sentences (whole or streamed), and the facts each must show."""

import pytest

from assistant.llm.checks import facts
from assistant.llm.sentences import SentenceStream, parse

REPLY = (
    "No, there is no cost to qualify [2]. You get two more attempts after a refusal [2][3].\n"
    "To qualify you need to:\n"
    "- accept the standard framework agreement [2]\n"
    "- state your areas of interest [2]\n"
    "The budget was £12.5m in 2021-22. [4] It is not guaranteed."
)


def _whole(text):
    stream = SentenceStream()
    return stream.feed(text) + stream.close()


def test_a_reply_is_cut_into_sentences_with_their_markers():
    sentences = _whole(REPLY)
    assert [s.body for s in sentences] == [
        "No, there is no cost to qualify.",
        "You get two more attempts after a refusal.",
        "To qualify you need to:",
        "accept the standard framework agreement",
        "state your areas of interest",
        "The budget was £12.5m in 2021-22.",
        "It is not guaranteed.",
    ]
    assert [s.cited for s in sentences] == [[2], [2, 3], [], [2], [2], [4], []]
    assert [s.bullet for s in sentences] == [False, False, False, True, True, False, False]
    assert sentences[2].new_line and sentences[3].new_line and not sentences[1].new_line


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50])
def test_streamed_in_any_pieces_it_cuts_the_same(size):
    stream = SentenceStream()
    got = []
    for i in range(0, len(REPLY), size):
        got += stream.feed(REPLY[i : i + size])
    got += stream.close()
    assert [(s.body, s.cited) for s in got] == [(s.body, s.cited) for s in _whole(REPLY)]


def test_a_sentence_is_only_complete_once_what_follows_has_arrived():
    stream = SentenceStream()
    assert stream.feed("There is no cost [2]") == []  # "[3]" may still come
    assert stream.feed("[3].") == []
    done = stream.feed(" Next")
    assert [s.cited for s in done] == [[2, 3]]


@pytest.mark.parametrize("raw,cited", [("a b c [1, 3].", [1, 3]), ("a b c [passage 2].", [2]), ("a b (1).", [])])
def test_marker_forms(raw, cited):
    assert parse(raw).cited == cited


@pytest.mark.parametrize("raw", ["NOT COVERED", "not covered.", "NOT_COVERED", "**NOT COVERED**"])
def test_not_covered_is_recognised(raw):
    assert parse(raw).not_covered
    assert not parse("This is not covered by the framework [1].").not_covered


def test_facts_compare_as_the_same_fact_however_written():
    passage = facts(
        "In 2021/22 this totals £5m. Call 0845 0100 132 or email esourcing@Justice.gov.uk. "
        "See https://www.clinks.org/our-work/probation-services. You have two more attempts. "
        "It was held on 24th June 2020.",
        passage=True,
    )
    same = facts(
        "In 2022 it was £5 million; ring +44 845 0100 132 or esourcing@justice.gov.uk, clinks.org/our-work/probation-services, "
        "2 more attempts, on 24 June 2020"
    )
    assert same.missing_from(passage) == []
    for invented in (
        "It costs £250.",
        "You have three more attempts.",
        "Call 0800 123 4567.",
        "Email help@moj.gov.uk.",
        "See www.gov.uk/probation.",
        "It was held in July.",
    ):
        assert facts(invented).missing_from(passage), invented


def test_words_are_not_taken_for_dates_or_figures():
    assert facts("You may march on with one of them.") == facts("")
