"""Misspelt words written as the guidance, or English, writes them, before anything reads the
question: "what kind of work will the probaiton grants pay for" is searched, and read by the
model, as "probation".

A word is left alone when the guidance uses it, it is an English word (pyspellchecker's
frequency list: "worth", "knocked" and "recalled" are not typos of "north", "locked" or
"called"; its list is American, so "neighbour" is checked as "neighbor"), it is written in
capitals ("CRCs") or it is question scaffolding ("whats"). Otherwise it becomes the most used word
of the guidance one edit away, or else the English word one edit away, for words long
enough that such a guess is safe ("orgs" and "cert" are kept). The work is bounded: a few
corrections per question, each a few hundred set lookups, whatever the size of the guidance.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from assistant.text import STOPWORDS

MIN_LENGTH = 4  # shorter words are too often abbreviations ("pdu", "roif") to correct
MIN_LENGTH_ENGLISH = 5  # an English guess for a shorter word is too often wrong ("orgs" -> "orgy")
MAX_CORRECTIONS = 8  # per text: a pasted essay costs no more than a question
MAX_LOOKUPS = 16  # unknown words looked up per text (each is a pass over the guidance's words)
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
# British spellings the American list lacks: "neighbour", "organisation", "centre", "catalogue".
_BRITISH = ((r"our", "or"), (r"is(e|ed|es|ing|ation)", r"iz\1"), (r"tre\b", "ter"), (r"ogue\b", "og"))


@lru_cache(maxsize=1)
def _english():
    """The English frequency list, loaded once per process (about 0.4 s) on first use."""
    from spellchecker import SpellChecker

    return SpellChecker(distance=1)


def preload() -> None:
    """Load the English list now (a server does, at start), not during the first misspelt question."""
    _english()


def _is_english(english, word: str) -> bool:
    if word in english:
        return True
    for british, american in _BRITISH:
        variant = re.sub(british, american, word)
        if variant != word and variant in english:
            return True
    return False


class Speller:
    def __init__(self, corpus_words: Iterable[str]) -> None:
        self._counts = Counter(w.lower() for w in corpus_words if w.isalpha() and len(w) >= MIN_LENGTH)
        self._known = frozenset(self._counts)

    def needs_correcting(self, word: str) -> bool:
        lower = word.lower()
        if len(lower) < MIN_LENGTH or lower in self._known or "'" in lower or lower in STOPWORDS:
            return False
        if sum(ch.isupper() for ch in word) >= 2:  # "CRCs", "PQQ": names and acronyms
            return False
        return not _is_english(_english(), lower)

    def correction(self, word: str) -> str | None:
        """The word as it should be spelt, or None when it is fine (or nothing better is known)."""
        if not self.needs_correcting(word):
            return None
        lower, english = word.lower(), _english()
        # The guidance's words one edit away (a letter missing, extra, wrong or swapped): a set
        # lookup per candidate, so the cost does not grow with the size of the guidance.
        close = [w for w in english.edit_distance_1(lower) if w in self._known]
        if close:
            return max(close, key=lambda w: (self._counts[w], w))
        if len(lower) < MIN_LENGTH_ENGLISH:
            return None
        suggestion = english.correction(lower)
        return suggestion if suggestion and suggestion != lower else None

    def respell(self, text: str) -> str:
        corrections = lookups = 0

        def fix(match: re.Match) -> str:
            nonlocal corrections, lookups
            if corrections >= MAX_CORRECTIONS or lookups >= MAX_LOOKUPS or not self.needs_correcting(match.group(0)):
                return match.group(0)
            lookups += 1
            better = self.correction(match.group(0))
            if better is None:
                return match.group(0)
            corrections += 1
            return better

        return _WORD.sub(fix, text)
