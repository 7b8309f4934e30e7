"""Misspelt words are read as the guidance writes them; real words, British spellings and
acronyms are left alone; a pasted essay costs no more than a question."""

import time

from assistant.answering.spelling import MAX_CORRECTIONS, Speller

GUIDANCE = "probation framework safeguarding referral restorative categories organisations checklist".split()


def test_typos_become_the_guidances_words():
    speller = Speller(GUIDANCE)
    assert speller.respell("what will the probaiton grants pay for") == "what will the probation grants pay for"
    assert speller.respell("is the framwork free? want a cheklist") == "is the framework free? want a checklist"
    assert speller.respell("what if the safegaurding worry") == "what if the safeguarding worry"


def test_everyday_english_and_british_spellings_are_not_typos():
    speller = Speller(GUIDANCE)
    for text in (
        "we got knocked back, how much is it worth",  # not "north" or "locked"
        "my neighbour's organisation is in the centre",  # British, not American
        "what were CRCs and how do orgs get a cert",  # acronyms and short abbreviations
        "whats the deadline",  # question scaffolding
    ):
        assert speller.respell(text) == text


def test_work_is_bounded_however_much_is_pasted():
    speller = Speller(GUIDANCE)
    junk = " ".join(f"qzxv{i}wq" for i in range(2000)) + " probaiton"
    started = time.perf_counter()
    out = speller.respell(junk)
    assert time.perf_counter() - started < 2.0
    assert sum(a != b for a, b in zip(junk.split(), out.split())) <= MAX_CORRECTIONS
