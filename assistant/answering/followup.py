"""Follow-up questions without an LLM: borrow the subject of the earlier question.

"How often does it need renewing?" after "What is IASME Gold?" is searched, and checked, as if
it said "IASME Gold"; "what about grants?" after "how much does it cost to qualify?" keeps
asking about cost, now of grants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answering.answer import Turn
from assistant.answering.intents import question_intents
from assistant.text import STOPWORDS, terms

PRONOUN = re.compile(r"\b(it|its|it's|they|them|their|this|that|these|those|there|he|she|one)\b", re.IGNORECASE)
MAX_SUBJECT_WORDS = 5
PARTICLES = frozenset("off on up out down over in".split())
# Words that only make sense after something: "how many MORE goes", "what IF we've only just started".
CONTINUES = re.compile(r"\b(more|else|instead|too|again|still|what if|otherwise)\b", re.IGNORECASE)
SWITCH = re.compile(r"^\s*(and|what about|how about|what of|same for|and for)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Condensed:
    search_text: str  # what retrieval and the answer checks work on
    borrowed: str  # the words taken from earlier in the conversation ("" for none)
    last_answer: str = ""  # what the assistant said last: where a follow-up is likely answered
    resolved: str = ""  # the question with its pointer replaced by the earlier subject ("how many RPDs are there")


def condense(question: str, history: list[Turn], has_subject) -> Condensed:
    """Add the earlier subject when the question leans on it; otherwise leave it alone."""
    earlier = [t.content for t in history if t.role == "user" and t.content.strip()]
    if not earlier:
        return Condensed(question, "")
    previous = next((q for q in reversed(earlier) if has_subject(q)), earlier[-1])
    if SWITCH.match(question) and has_subject(question) and not PRONOUN.search(question):
        # A new subject, the same kind of question: carry over what was being asked.
        asked = " ".join(i.name for i in question_intents(previous))
        borrowed = _intent_words(previous) if asked else ""
        return Condensed(f"{question} {borrowed}".strip(), borrowed)
    leans_back = PRONOUN.search(question) or CONTINUES.search(question)
    if not leans_back and not has_subject(question) and _own_words(question):
        # Words of its own, none of which the guidance uses, and nothing pointing back: a new
        # subject ("what's the weather in Leeds"), judged as asked, not answered from the last one.
        return Condensed(question, "")
    if leans_back or not has_subject(question):
        last = next((t.content for t in reversed(history) if t.role == "assistant"), "")
        return Condensed(f"{question} {previous}", previous, last, _resolve(question, previous))
    return Condensed(question, "")


def _own_words(question: str) -> set[str]:
    """The question's words beyond the kind of fact it asks for ("how much?" has none)."""
    asked = set().union(*(i.words for i in question_intents(question)))
    return set(terms(question)) - asked


def _resolve(question: str, previous: str) -> str:
    """'how many of them are there' after 'whats an RPD' -> 'how many of RPD are there'. Only when
    the earlier question names a short subject; '' otherwise."""
    subject = re.findall(r"[\w'+-]+", previous)

    def scaffolding(word: str) -> bool:
        word = word.lower().replace("'", "")
        return word in STOPWORDS and word not in PARTICLES  # "call off" keeps its "off"

    # The subject is what is left once the question's own scaffolding is taken off both ends:
    # "what does call off mean" -> "call off"; "tell me about transforming rehabilitation" -> ...
    while subject and scaffolding(subject[0]):
        subject.pop(0)
    while subject and scaffolding(subject[-1]):
        subject.pop()
    if not subject or len(subject) > MAX_SUBJECT_WORDS or not PRONOUN.search(question):
        return ""
    return PRONOUN.sub(" ".join(subject), question, count=1)


def _intent_words(question: str) -> str:
    found = []
    for intent in question_intents(question):
        match = intent.question.search(question)
        if match:
            found.append(match.group(0))
    return " ".join(found)
