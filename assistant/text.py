"""Word-level text handling shared by search, glossary matching and answer checks."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_STEMMER = snowballstemmer.stemmer("english")
_ACRONYM_PLURAL = re.compile(r"\b([A-Z]{2,})'?s\b")  # "RPDs", "PQQ's": the plural of an acronym is the acronym
_WORD = re.compile(r"[a-z0-9£]+(?:[+][a-z0-9]*)?|[a-z0-9£]+")

# Function words and question scaffolding: they carry no topic, so they neither find nor
# prove anything.
STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing done down during each few for from
    further get gets getting got had has have having he her here hers him his how i if in into is
    it its itself just me more most my no nor not now of off on once only or other our ours out
    over own same she should so some such than that the their theirs them then there these they
    this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours s t ll re ve d m don doesn isn aren wasn weren hasn
    haven hadn won wouldn shouldn couldn mustn shall may might must also please tell know explain
    mean means meaning stand stands want wants need needs like thanks thank hi hello ok okay us
    im ive id whats hows wheres whos thats theres lot lots anything something thing things way
    say said go going one use used using onto into via yes whether either neither although though unless whose
    """.split()
)


def normalise(text: str) -> str:
    """Fold Unicode look-alikes so that 'Selection Questionnaire' in quotes still matches."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"[‐‑‒–—]", "-", text)
    return text


def words(text: str) -> list[str]:
    """Lower-case word tokens; apostrophes are dropped so "what's" becomes 'whats'."""
    text = _ACRONYM_PLURAL.sub(r"\1", normalise(text)).lower().replace("'", "")
    return _WORD.findall(text)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _STEMMER.stemWord(word)


def terms(text: str) -> list[str]:
    """Stemmed content words: what search indexes and what a question is checked for."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


@lru_cache(maxsize=65536)
def term_set(text: str) -> frozenset[str]:
    """The terms of a text as a set, remembered: the guidance's sentences are scored against every
    question, and their terms never change (bounded; at 100x the corpus there are 22,000 units)."""
    return frozenset(terms(text))
