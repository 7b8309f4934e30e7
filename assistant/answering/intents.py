"""What kind of fact a question asks for, and what evidence of that kind looks like.

"How much does X cost?" is only answered by a passage that talks about money, however well it
matches X. Each intent names the question words that signal it and a pattern the chosen
evidence must match; the signalling words are then not required as terms themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.text import normalise, stem

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"


@dataclass(frozen=True)
class Intent:
    name: str
    question: re.Pattern
    evidence: re.Pattern
    words: frozenset[str]  # stems the question uses to ask for it


def _intent(name: str, question: str, evidence: str, words: str) -> Intent:
    return Intent(
        name,
        re.compile(question, re.IGNORECASE),
        re.compile(evidence, re.IGNORECASE),
        frozenset(stem(w) for w in words.split()),
    )


INTENTS = (
    _intent(
        "money",
        # An amount is asked for ("how much", "what does it cost"), not just money mentioned
        # ("is there money for...", "what will grants pay for", "who is in charge").
        r"\b(cost|costs|costing|price|priced|fee|fees|charged|free|expensive|cheap|afford)\b|\bhow much\b|\bcharges? (for|to)\b",
        r"£|\d\s?%|\bper ?cent\b|\bcosts?\b|\bfree\b|\bfees?\b|\bprice|\bcharge",
        "cost costs costing price priced fee fees charge charged charges pay paying money free expensive cheap afford much",
    ),
    _intent(
        "frequency",
        r"\bhow often\b|\bhow frequently\b|\brenew(al|ed|ing)?\b.*\b(when|often)\b",
        r"\bevery\b|\bannual|\byearly\b|\beach (year|month|week)\b|\bonce a\b|\bmonthly\b|\bweekly\b|\bquarterly\b"
        r"|\bdaily\b|\bfortnightly\b|\btimes a (year|month|week)\b|\ba (year|month|week)\b",
        "often frequently",
    ),
    _intent(
        "duration",
        r"\bhow long\b|\buntil when\b|\bend date\b",
        r"\b(day|week|month|year)s?\b|\buntil\b|\b(19|20)\d\d\b|-month\b",
        "long",
    ),
    _intent(
        "date",
        r"^\s*when\b|\bwhat (date|year|month)\b|\bwhich (date|year|month)\b",
        rf"\b(19|20)\d\d\b|\b({_MONTHS})\b|\bday one\b|\bfirst day\b|\b(before|after|until|annually)\b"
        r"|\b(\d+|one|two|three|six|twelve)[\s-](day|week|month|year)s?\b",
        "when date year month",
    ),
    _intent(
        "count",
        r"\bhow many\b|\bnumber of\b",
        # A number that counts something: a year ("in 2021") is not a count.
        r"\b(?!(19|20)\d\d\b)\d+\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\b",
        "many number",
    ),
    _intent(
        "contact",
        # Asking for a way to get in touch, not a question that mentions an email it was about.
        r"\b(email|e-mail|phone|telephone) (address|number|them|someone|somebody)\b|\bwho (do|can|should) i (email|phone|ring|call|contact)\b"
        r"|\b(ring|call) them\b|\bcontact (details|number|them)\b|\bhelpline\b|\bhow (do|can) (i|we) (contact|reach|get in touch)\b",
        r"@|\b0\d{3,4}\s?\d{3,4}",
        "email e-mail phone telephone ring helpline contact detail number",
    ),
)


_NUMBER = r"(\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen|twenty)"
_COUNTED = re.compile(r"\bhow many\s+(?:of\s+(?:the\s+)?)?([a-z]+)", re.IGNORECASE)


def question_intents(question: str, known=None) -> list[Intent]:
    """The kinds of fact the question asks for. `known` (is this stem in the guidance?) lets a
    count of something the guidance calls by another name ("how many goes") take any number."""
    text = normalise(question)
    found = []
    for intent in INTENTS:
        if not intent.question.search(text):
            continue
        counted = _COUNTED.search(text) if intent.name == "count" else None
        noun = counted.group(1).lower() if counted else ""
        if counted and noun not in ("of", "them", "they", "there", "times") and (known is None or known(stem(noun))):
            # "how many regions": the number must count regions ("12 probation regions"), not
            # just appear somewhere in a sentence about them.
            noun = stem(counted.group(1).lower())[:5]
            evidence = re.compile(rf"\b{_NUMBER}\s+(?:[\w-]+\s+){{0,2}}{re.escape(noun)}", re.IGNORECASE)
            intent = Intent(intent.name, intent.question, evidence, intent.words | {stem(counted.group(1).lower())})
        found.append(intent)
    return found


def satisfied(intent: Intent, evidence: str) -> bool:
    return intent.evidence.search(normalise(evidence)) is not None
