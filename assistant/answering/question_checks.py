"""Checks on the question itself, before any search: is it a question we should try to answer?"""

from __future__ import annotations

import html
import re
import unicodedata

from assistant.text import STOPWORDS, stem, words

_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
_SCRIPT = re.compile(r"<\s*(script|style)[^>]*>.*?<\s*/\s*\1\s*>", re.IGNORECASE | re.DOTALL)

# Requests for a task, not for information: the assistant quotes guidance, it does not write.
TASK_REQUEST = re.compile(
    r"\b(write|compose|create|generate|draft|make up|sing|tell)\b[^.?!]{0,40}\b"
    r"(poem|song|story|joke|essay|limerick|haiku|rap|code|script|program|letter|email)\b"
    r"|\btranslate\b|\brecipe\b",
    re.IGNORECASE,
)
# Attempts to change the assistant's rules. Without an LLM they cannot work, but the person
# still deserves a plain answer rather than whatever the words happen to retrieve.
INJECTION = re.compile(
    r"\b(ignore|disregard|forget)\b[^.?!]{0,30}\b(instructions|rules|prompt|previous|above)\b"
    r"|\b(system prompt|you are now|pretend (to be|you are)|act as|jailbreak|developer mode)\b",
    re.IGNORECASE,
)
# A question about one person's case ("my service user missed two appointments, will he be
# recalled?"): guidance cannot decide it, and the question holds personal details. Both parts
# must be there: someone of the asker's, and what will happen to them; "a client told me ...,
# what do I do?" asks what the guidance says to do, and is answered.
_SOMEONE = re.compile(
    r"\b(my|our)\s+(?:\w+\s+)?(service user|client|mentee|mate|friend|son|daughter|partner|husband|wife"
    r"|brother|sister|neighbour|dad|mum|father|mother|cousin|uncle|aunt|boyfriend|girlfriend|nephew|niece)\b",
    re.IGNORECASE,
)
_THEIR_OUTCOME = re.compile(
    r"\b(will|would|can|could|should|does|is|has)\s+(he|she|they)\b|\b(he|she)\s*('ll|will|is going to|gonna)\b",
    re.IGNORECASE,
)


def clean(question: str) -> tuple[str, bool]:
    """The question as plain text, and whether it held markup that had to be removed."""
    text = unicodedata.normalize("NFKC", question)
    text = "".join(ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in text)
    had_markup = bool(_TAG.search(text))
    if had_markup:
        text = _SCRIPT.sub(" ", text)
        text = html.unescape(_TAG.sub(" ", text))
    return " ".join(text.split()), had_markup


def looks_english(question: str, known) -> bool:
    """False for another script, or Latin-script text whose words are neither English nor the guidance's."""
    letters = [ch for ch in question if ch.isalpha()]
    if not letters:
        return True
    latin = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
    if latin / len(letters) < 0.5:
        return False
    tokens = [w for w in words(question) if not w.isdigit()]
    if len(tokens) < 3:
        return True
    recognised = sum(1 for w in tokens if w in STOPWORDS or known(stem(w)))
    return recognised / len(tokens) >= 0.4


# Words that are common in Welsh and are not English words (apostrophes dropped, as words() does:
# "yw'r" is "ywr"). A question not in English with enough of them is taken to be in Welsh.
WELSH_WORDS = frozenset(
    "a ac am ar beth ble bod chi cymraeg cwestiwn cysylltu diolch dw dwi dyw eich ein fy gallaf gallu gan "
    "gen gyda gydag hefyd helo hwn hyn hynny iawn ir mae maen mewn mwy neu ni nid oes or pa pam pan pryd "
    "pwy rhaid rwy rwyn rydw rydych rydyn saesneg sut sydd wedi y ydi ydw ydy ydych yn yr yw ywr faint "
    "angen sain dim ddim os gwelwch dda shwmae bore prynhawn".split()
)
_WELSH_ONLY = re.compile(r"[ŵŷẁẃẅỳ]|\b(ll|dd|ff)\w*(dd|ll|au|wch|ion)\b")


def looks_welsh(question: str) -> bool:
    """True when a question (already found not to be English) reads as Welsh: a good share of
    Welsh words, or letters only Welsh uses."""
    tokens = [w for w in words(question) if not w.isdigit()]
    if not tokens:
        return False
    if _WELSH_ONLY.search(question.lower()):
        return True
    # "a", "am", "i" are English too: only the Welsh-only words count towards a short question
    welsh = sum(1 for w in tokens if w in WELSH_WORDS and w not in ("a", "am", "i", "pan", "neu"))
    return welsh >= 2 or welsh / len(tokens) >= 0.3


def is_task_request(question: str) -> bool:
    return TASK_REQUEST.search(question) is not None or INJECTION.search(question) is not None


def is_about_one_persons_case(question: str) -> bool:
    return _SOMEONE.search(question) is not None and _THEIR_OUTCOME.search(question) is not None
