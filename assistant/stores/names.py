"""Where people's names are in a text, found without a language model, for `redact.py`.

A word is taken for a name when it is a known first name (the US census lists in the `names`
package, plus `data/first_names_extra.txt`) that is not more often an ordinary word (the English
frequency list, and `data/not_names.txt`: Kent, May, Grant), written with a capital, or in lower
case when it is a rare word; or when a cue comes before it ("Mr", "Dr", "my name is", "called",
"my son", "my client"...), whatever it is. The capitalised words right after a name (and a
census surname in lower case after a lower-case one) are its surname. What none of this catches is
missed: see the caveat in redact.py.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

DATA = Path(__file__).parent / "data"
COMMON_WORD = 20000  # English frequency above which a first name is more often a word ("hope", "will")
RARE_WORD = 2000  # below this, a first name in lower case is taken as a name ("kayleigh", "declan")
MAX_SURNAME_WORDS = 2

_TOKEN = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")
TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "lord", "lady"}
NAMING_CUES = (("name", "is"), ("names", "are"), ("name", "was"), ("name",), ("named",), ("called",), ("call", "me"))
RELATIONS = {
    "son", "daughter", "husband", "wife", "partner", "boyfriend", "girlfriend", "brother", "sister", "mum",
    "mom", "dad", "mother", "father", "client", "user", "colleague", "friend", "nephew", "niece", "uncle",
    "aunt", "cousin", "grandson", "granddaughter", "manager", "officer", "worker", "mentee", "mentor",
    "caseworker", "volunteer", "tenant", "offender", "prisoner", "child", "kid", "stepson", "stepdaughter",
}  # fmt: skip
OWNERS = {"my", "our", "his", "her", "their", "your", "a", "the"}
NOT_A_NAME = {
    "i", "a", "an", "the", "is", "was", "are", "be", "and", "or", "but", "to", "of", "in", "on", "at", "for",
    "with", "by", "it", "this", "that", "he", "she", "they", "we", "you", "me", "him", "her", "them", "us",
    "my", "our", "his", "their", "your", "who", "what", "when", "where", "why", "how", "which", "not", "no",
    "yes", "has", "have", "had", "do", "does", "did", "can", "could", "will", "would", "should", "may",
    "might", "must", "if", "so", "as", "from", "about", "into", "after", "before", "just", "also", "then",
    "there", "here", "been", "being", "get", "got", "please", "thanks", "hi", "hello", "dear",
}  # fmt: skip


@lru_cache(maxsize=1)
def _lists() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    package = resources.files("names")
    first = {
        line.split()[0].lower()
        for name in ("dist.male.first", "dist.female.first")
        for line in (package / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    first |= _words(DATA / "first_names_extra.txt")
    surnames = {
        line.split()[0].lower()
        for line in (package / "dist.all.last").read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    return frozenset(first), frozenset(surnames), frozenset(_words(DATA / "not_names.txt"))


def _words(path: Path) -> set[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {w.lower() for line in lines if not line.lstrip().startswith("#") for w in line.split()}


@lru_cache(maxsize=1)
def _frequency():
    from assistant.answering.spelling import _english

    return _english().word_frequency


def name_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each name in the text, in order, not overlapping."""
    tokens = [(m.start(), m.end(), m.group(0)) for m in _TOKEN.finditer(text)]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        if _starts_name(text, tokens, i):
            end = i
            while end + 1 < len(tokens) and end - i < MAX_SURNAME_WORDS and _surname(text, tokens, end):
                end += 1
            start, stop = tokens[i][0], tokens[end][1]
            word = tokens[end][2]
            if word.lower().endswith(("'s", "’s")):
                stop -= 2  # "Sarah's" -> "[name]'s"
            spans.append((start, stop))
            i = end + 1
        else:
            i += 1
    return spans


def _starts_name(text: str, tokens: list, i: int) -> bool:
    word = _bare(tokens[i][2])
    lower = word.lower()
    if lower in NOT_A_NAME or len(lower) < 2 and not (word.isupper() and _after_title(text, tokens, i)):
        return False
    cue = _cue(text, tokens, i)
    if cue == "title":
        return word[0].isupper()
    if cue == "naming":
        return True
    first, _, ordinary = _lists()
    if cue == "relation":
        return word[0].isupper() or (lower in first and lower not in ordinary)
    if lower not in first or lower in ordinary:
        return False
    frequency = _frequency()[lower]
    if word[0].isupper() and not word.isupper():
        return frequency < COMMON_WORD
    return word.islower() and frequency < RARE_WORD


def _surname(text: str, tokens: list, end: int) -> bool:
    """Is the word after tokens[end] the surname of the name that ends there?"""
    if not _adjacent(text, tokens[end], tokens[end + 1]):
        return False
    prev, word = tokens[end][2], _bare(tokens[end + 1][2])
    lower = word.lower()
    if lower in NOT_A_NAME:
        return False
    if word[0].isupper():
        return True
    _, surnames, ordinary = _lists()
    return prev.islower() and lower in surnames and lower not in ordinary and _frequency()[lower] < RARE_WORD


def _cue(text: str, tokens: list, i: int) -> str | None:
    before = [t[2].lower() for t in _joined_before(text, tokens, i, 3)]
    if before and before[-1].rstrip(".") in TITLES:
        return "title"
    for cue in NAMING_CUES:
        if tuple(before[-len(cue) :]) == cue:
            return "naming"
    if before and before[-1] in RELATIONS and (len(before) < 2 or before[-2] in OWNERS | {"service", "probation"}):
        return "relation"
    return None


def _after_title(text: str, tokens: list, i: int) -> bool:
    return _cue(text, tokens, i) == "title"


def _joined_before(text: str, tokens: list, i: int, count: int) -> list:
    """Up to `count` tokens just before tokens[i], stopping at punctuation, except a title's full
    stop ("Dr. Patel") and a colon or comma right before the name ("name: darren", "client, Ryan")."""
    out = []
    for j in range(i - 1, max(-1, i - 1 - count), -1):
        gap = text[tokens[j][1] : tokens[j + 1][0]].strip()
        if tokens[j][2].lower() in TITLES:
            gap = gap.removeprefix(".").strip()
        if gap and not (j == i - 1 and gap in (":", ",")):
            break
        out.insert(0, tokens[j])
    return out


def _adjacent(text: str, a: tuple, b: tuple) -> bool:
    return re.fullmatch(r"[ \t]+|[ \t]*\.[ \t]*", text[a[1] : b[0]]) is not None and (
        "." not in text[a[1] : b[0]] or len(a[2]) == 1  # "J. Smith": an initial's full stop
    )


def _bare(word: str) -> str:
    return re.sub(r"['’]s$", "", word)
