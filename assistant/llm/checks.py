"""Is a sentence the model wrote grounded in the passage it cites? Four checks, in order:

1. `no_citation`: it cites a passage ([n]), and only passages it was given (`unknown_passage`);
2. `unsupported_fact`: every figure, amount, date, email address, phone number and link in it
   stands in a passage it cites (numbers compared as numbers: "£12.5 million" is the "£12.5m" of
   the passage, "two" is "2"; a year range "2021/22" is also "2022");
3. `off_meaning`: what it says is close in meaning to what a cited passage says, and not closer
   to another passage it was given: two named signals, `closeness` (the highest cosine between the
   sentence and a sentence of a cited passage; their vectors are made at ingest, note 005) and
   `margin` (closeness minus the same over the passages it does not cite), weighed by a logistic
   regression fitted on labelled examples (`assistant fit-grounding`, `grounding.json`, note 007);
4. `instructions`: it does not repeat the model's instructions (six words in a row of them), and
   does not talk about its role or rules ("I am now...", "ignore my instructions": the question
   checks' own pattern for such attempts, and its first-person forms). A planted passage that
   says "you are now DebugBot" cannot ground "I am now DebugBot".

A sentence that fails any check is never shown.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.answering.question_checks import INJECTION
from assistant.corpus.chunking import Chunk, strip_markdown
from assistant.corpus.embeddings import fitted_entry
from assistant.corpus.units import Unit, units_of
from assistant.llm.sentences import Sentence

log = logging.getLogger(__name__)

THRESHOLDS_FILE = Path(__file__).with_name("grounding.json")
ECHO_WORDS = 6
_ROLE = re.compile(r"\b(I am now|I'm now|I will now act|my (instructions|rules|system prompt|prompt))\b", re.IGNORECASE)

_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(
    r"\bhttps?://[^\s<>()\[\]]+|\bwww\.[^\s<>()\[\]]+|\b[\w-]+(?:\.[\w-]+)*\.(?:uk|org|com|net|gov|io)(?:/[^\s<>()\[\]]*)?\b"
)
_PHONE = re.compile(r"(?<![\w£])(?:\+44\s?\(?0?\)?|0)\d(?:[\s-]?\d){8,10}(?!\d)")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?")
_YEAR_RANGE = re.compile(r"\b(19|20)(\d\d)\s?[/-]\s?(\d\d)\b")
_MONTH_NAMES = "january february march april may june july august september october november december".split()
_ANY_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
# A month is a date when it stands beside a number ("1 May", "May 2023"); a full name that is
# never an ordinary word ("in April") is one on its own. "may" and "march" alone are words.
_MONTH = re.compile(
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_ANY_MONTH}\b|\b{_ANY_MONTH}\.?\s+\d{{1,4}}\b"
    r"|\b(january|february|april|june|july|august|september|october|november|december)\b",
    re.IGNORECASE,
)
# Spelt-out counts are figures too ("two more attempts" is the passage's "2"); ordinals are not
# counts ("the third application" is not "three attempts"), so they are left out.
_WORD_NUMBERS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
} | {"twice": "2"}
_WORDS_NOT_FIGURES = frozenset({"zero", "one"})  # in a sentence, more often a word than a figure
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_WORD_NUMBERS) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class Facts:
    """The checkable facts of a text, each normalised so that the same fact compares equal."""

    numbers: frozenset[str]
    months: frozenset[str]
    emails: frozenset[str]
    phones: frozenset[str]
    urls: frozenset[str]

    @staticmethod
    def union(many: list[Facts]) -> Facts:
        return Facts(*(frozenset().union(*(getattr(f, name) for f in many)) for name in Facts.__dataclass_fields__))

    def missing_from(self, other: Facts) -> list[str]:
        missing = [e for e in self.emails if e not in other.emails]
        missing += [p for p in self.phones if p not in other.phones]
        missing += [u for u in self.urls if not any(o.startswith(u) or u.startswith(o) for o in other.urls)]
        missing += [n for n in self.numbers if n not in other.numbers]
        missing += [m for m in self.months if m not in other.months]
        return missing


def facts(text: str, passage: bool = False) -> Facts:
    """The facts of a text. In a passage every spelt-out count counts; in a sentence "one" does not."""
    text = strip_markdown(text).replace("’", "'")
    emails = {e.lower().rstrip(".") for e in _EMAIL.findall(text)}
    rest = _EMAIL.sub(" ", text)
    urls = {_url(u) for u in _URL.findall(rest)}
    rest = _URL.sub(" ", rest)
    phones = {_phone(p) for p in _PHONE.findall(rest)}
    rest = _PHONE.sub(" ", rest)
    numbers = {_number(n) for n in _NUMBER.findall(rest)}
    for century, _year, short in _YEAR_RANGE.findall(rest):
        numbers.add(f"{century}{short}")  # "2021/22" is also "2022"
    numbers |= {
        _WORD_NUMBERS[w.lower()] for w in _NUMBER_WORD.findall(rest) if passage or w.lower() not in _WORDS_NOT_FIGURES
    }
    months = {next(m for m in groups if m).lower()[:3] for groups in _MONTH.findall(rest)}
    return Facts(frozenset(numbers), frozenset(months), frozenset(emails), frozenset(phones), frozenset(urls))


def _url(url: str) -> str:
    url = url.lower().rstrip(".,;:!?'\"")
    url = re.sub(r"^https?://", "", url)
    url = re.sub(r"^www\.", "", url)
    return url.split("#", 1)[0].rstrip("/")


def _phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return "0" + digits[2:].lstrip("0") if digits.startswith("44") else digits


def _number(number: str) -> str:
    number = number.replace(",", "")
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    return number.lstrip("0") or "0"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""  # the first check it failed
    cosine: float = 0.0  # its closest sentence in the cited passages
    closest: Unit | None = None  # that sentence: the citation links to it


@dataclass(frozen=True)
class Closeness:
    cited: float  # the highest cosine between the sentence and a sentence of a passage it cites
    elsewhere: float  # the same over the passages it does not cite (0 when there are none)
    unit: Unit | None  # the cited passage's closest sentence: the citation links to it

    @property
    def margin(self) -> float:
        return self.cited - self.elsewhere


@dataclass(frozen=True)
class MeaningModel:
    """P(grounded) from the two signals; a sentence passes at `threshold` or above."""

    closeness: float
    margin: float
    bias: float
    threshold: float

    def probability(self, c: Closeness) -> float:
        z = self.bias + self.closeness * c.cited + self.margin * c.margin
        return 1 / (1 + math.exp(-max(min(z, 50), -50)))


# Only when grounding.json has no entry for this kind of embedder: closeness 0.5 or more passes.
UNFITTED = MeaningModel(closeness=10.0, margin=0.0, bias=-5.0, threshold=0.5)


class Grounding:
    """The checks for the passages of one question (their facts and sentence vectors, made once)."""

    def __init__(
        self,
        passages: list[Chunk],
        embedder,
        unit_vectors,
        model: MeaningModel,
        instructions: str = "",
    ) -> None:
        self.passages = passages
        self.embedder = embedder
        self.unit_vectors = unit_vectors  # units -> their vectors (UnitVectors.matrix), or None
        self.model = model
        self._facts = [facts(f"{p.title}\n{p.section}\n{p.text}", passage=True) for p in passages]
        self._units = [units_of(p, rank) for rank, p in enumerate(passages)]
        self._vectors: dict[int, np.ndarray] = {}
        self._echo = _ngrams(instructions, ECHO_WORDS)

    def check(self, sentence: Sentence) -> Verdict:
        if not sentence.cited:
            return Verdict(False, "no_citation")
        if any(not 1 <= n <= len(self.passages) for n in sentence.cited):
            return Verdict(False, "unknown_passage")
        if (self._echo and _ngrams(sentence.body, ECHO_WORDS) & self._echo) or _about_itself(sentence.body):
            return Verdict(False, "instructions")
        cited = [n - 1 for n in sentence.cited]
        if facts(sentence.body).missing_from(Facts.union([self._facts[i] for i in cited])):
            return Verdict(False, "unsupported_fact")
        closeness = self.closeness(sentence.body, cited)
        if not self.grounded(closeness):
            return Verdict(False, "off_meaning", closeness.cited, closeness.unit)
        return Verdict(True, "", closeness.cited, closeness.unit)

    def grounded(self, closeness: Closeness) -> bool:
        return self.model.probability(closeness) >= self.model.threshold

    def closeness(self, text: str, cited: list[int]) -> Closeness:
        """How close the text is in meaning to the cited passages' sentences, and to the others'.
        A sentence the cited passages also hold (a passage repeated under another heading) does
        not count against them."""
        vector = np.asarray(self.embedder.embed_query(text), dtype=np.float32)
        cited_text = " ".join(strip_markdown(self.passages[i].text) for i in cited)
        best = {True: (-1.0, None), False: (0.0, None)}
        for i, units in enumerate(self._units):
            if not units:
                continue
            if i not in self._vectors:
                self._vectors[i] = self._unit_matrix(units)
            scores = self._vectors[i] @ vector
            if i not in cited:
                scores = np.where([strip_markdown(u.text) in cited_text for u in units], -1.0, scores)
            j = int(np.argmax(scores))
            if scores[j] > best[i in cited][0]:
                best[i in cited] = (float(scores[j]), units[j])
        return Closeness(best[True][0], best[False][0], best[True][1])

    def _unit_matrix(self, units: list[Unit]) -> np.ndarray:
        if self.unit_vectors is not None:
            return self.unit_vectors(units)
        return np.asarray(self.embedder.embed_documents([u.embed_text for u in units]), dtype=np.float32)


def _about_itself(text: str) -> bool:
    return INJECTION.search(text) is not None or _ROLE.search(text) is not None


def _ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def load_model(embedder_name: str, path: Path = THRESHOLDS_FILE) -> MeaningModel:
    """The fitted model for this kind of embedder (a model's cosines and the hashing fallback's differ)."""
    try:
        entry = fitted_entry(json.loads(path.read_text(encoding="utf-8")), embedder_name)
        if entry:
            w = entry["weights"]
            return MeaningModel(
                float(w["closeness"]), float(w["margin"]), float(entry["bias"]), float(entry["threshold"])
            )
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("The grounding model in %s could not be read (%s).", path, err)
    log.warning("No fitted grounding model for %s; a sentence passes at closeness 0.5.", embedder_name)
    return UNFITTED
