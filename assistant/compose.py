"""The extractive composer: an answer made only of sentences and lists quoted from passages.

No LLM is needed and nothing can be invented: every sentence of the answer is a sentence of a
cited passage. The composer picks the units (sentences, or a list with the sentence that
introduces it) that best match the question, within a word budget, and numbers the sources.
It declines when the chosen evidence does not cover the question well enough.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from assistant.answer import Citation
from assistant.chunking import Block, Chunk, parse_blocks, split_sentences, strip_markdown, text_fragment_link
from assistant.intents import Intent, satisfied
from assistant.text import terms

DEFINITION_QUESTION = re.compile(
    r"\b(what|wat)\s*(is|are|was|were|'s)\b|^\s*(whats|what's)\b|\bmean(s|ing)?\b|\bstand for\b|\bdefin|\bexplain",
    re.IGNORECASE,
)
DEFINING_VERB = re.compile(r"\b(is|are|refers to|means|was)\b")
FOLLOW_ON = re.compile(r"^(This|It|They|These|Once|However)\b")
# A sentence whose first words point back ("In 2021/22 this totals...") needs the one before it.
LEANS_BACK = re.compile(r"^(\S+\s+){0,3}(this|it|they|these|its|their)\b", re.IGNORECASE)
PROCEDURE_QUESTION = re.compile(
    r"\bhow (do|can|to|should|would)\b|\bsteps?\b|\bneed to\b|\brequire|\bwhat (do|does) .{0,40}\bneed\b|\blist\b|\bwhich\b|\bwhat are\b",
    re.IGNORECASE,
)


@dataclass
class Unit:
    """A sentence, or a sentence that introduces a list together with the list."""

    text: str
    chunk: Chunk
    rank: int  # of the passage it comes from
    order: int  # position within the passage
    paragraph: int  # which block of the passage
    items: list = field(default_factory=list)  # list items: str, or (str, [children])
    heading: bool = False  # the text is the section heading that introduces the list
    context: str = ""  # the sentence before, when this one leans on it ("In 2021/22 this totals...")

    @property
    def full_text(self) -> str:
        parts = [self.text]
        for item in self.items:
            if isinstance(item, tuple):
                parts += [item[0], *item[1]]
            else:
                parts.append(item)
        return " ".join(parts)

    def words(self) -> int:
        return len(strip_markdown(self.full_text).split())

    @property
    def evidence(self) -> str:
        """What the unit says, with what its pronouns point back to."""
        return f"{self.context} {self.full_text}" if self.context else self.full_text

    # Stemmed words, computed once: scoring and the topic checks ask for them many times.
    @cached_property
    def text_terms(self) -> set[str]:
        return set(terms(self.text))

    @cached_property
    def full_terms(self) -> set[str]:
        return set(terms(self.full_text))

    @cached_property
    def context_terms(self) -> set[str]:
        return set(terms(self.context))

    @cached_property
    def heading_terms(self) -> set[str]:
        """The words of the passage's own heading: the subject a sentence under it speaks of."""
        return set(terms(self.chunk.section.split(" > ")[-1]))

    def render(self, marker: str) -> str:
        if not self.items:
            return f"{self.text} {marker}"
        lines = [f"**{self.text}** {marker}" if self.heading else f"{self.text} {marker}"]
        for item in self.items:
            if isinstance(item, tuple):
                lines.append(f"- {item[0]}")
                lines += [f"  - {child}" for child in item[1]]
            else:
                lines.append(f"- {item}")
        return "\n".join(lines)


@dataclass
class Composition:
    text: str
    citations: list[Citation]
    units: list[Unit]
    coverage: float
    missing_terms: list[str]
    unmet_intents: list[str]
    passage_scores: dict[str, float] = field(default_factory=dict)  # chunk id -> best unit score


def units_of(chunk: Chunk, rank: int) -> list[Unit]:
    units: list[Unit] = []

    def add(text: str, paragraph: int, items=None, heading: bool = False) -> None:
        previous = units[-1] if units and units[-1].paragraph == paragraph else None
        context = previous.text if previous and LEANS_BACK.search(text) else ""
        units.append(Unit(text, chunk, rank, len(units), paragraph, items or [], heading, context))

    heading = chunk.section.split(" > ")[-1]
    for b, block in enumerate(parse_blocks(chunk.text)):
        intro = split_sentences(block.intro) if block.intro else []
        if block.is_list and not intro and b == 0 and heading != chunk.title:
            add(heading, b, _items(block), heading=True)  # "Checklist for submitting an ITT" + its list
        if block.is_list and intro:
            for sentence in intro[:-1]:
                add(sentence, b)
            add(intro[-1], b, _items(block))
        else:
            for sentence in intro:
                add(sentence, b)
        if block.is_list:
            # Each item is quotable on its own too (a glossary list has no intro at all).
            for i, item in enumerate(block.items):
                sentences = split_sentences(item.text)
                for sentence in sentences[:-1]:
                    add(sentence, 1000 * b + i)
                if item.children:
                    add(sentences[-1], 1000 * b + i, list(item.children))
                else:
                    add(sentences[-1], 1000 * b + i)
    return units


def _items(block: Block) -> list:
    return [(item.text, list(item.children)) if item.children else item.text for item in block.items]


def compose(
    question: str,
    query_terms: list[str],
    required_terms: list[str],
    intents: list[Intent],
    passages: list[Chunk],
    idf,
    max_words: int,
    defining_quotes: tuple[str, ...] = (),
) -> Composition | None:
    """The answer, or None when no passage has anything to say about the question."""
    wanted = set(query_terms)
    candidates = [u for rank, chunk in enumerate(passages) for u in units_of(chunk, rank)]
    if not candidates or not wanted:
        return None
    definition = DEFINITION_QUESTION.search(question) is not None
    procedure = PROCEDURE_QUESTION.search(question) is not None
    scored = [(score_unit(u, wanted, intents, idf, definition, procedure), u) for u in candidates]
    if definition and defining_quotes:
        # The glossary says where each term is defined: for "what is X", that sentence first.
        scored = [(s * 2 if any(q in u.full_text for q in defining_quotes) else s, u) for s, u in scored]
    scored = [(s, u) for s, u in scored if s > 0]
    if not scored:
        return None
    scored.sort(key=lambda su: (-su[0], su[1].rank, su[1].order))
    passage_scores: dict[str, float] = {}
    for score, unit in scored:
        passage_scores.setdefault(unit.chunk.chunk_id, score)
    required = list(dict.fromkeys(required_terms))

    def on_topic(unit: Unit) -> bool:
        # A unit must be about the question's subject: evidence of cost, a date or a number from
        # a sentence about something else proves nothing.
        evidence = unit.full_terms | unit.context_terms | unit.heading_terms
        return measure_coverage(required, evidence, idf)[0] >= 0.5

    best_score, best = next(((s, u) for s, u in scored if on_topic(u)), scored[0])
    chosen: list[Unit] = []
    used_words = 0

    def take(unit: Unit, force: bool = False) -> bool:
        """Add a unit (with the sentence it leans on, when there is room); False if it does not fit."""
        nonlocal used_words
        if not force and used_words + unit.words() > max_words:
            return False
        lead_in = _previous_in_paragraph(unit, candidates) if unit.context or FOLLOW_ON.match(unit.text) else None
        if lead_in and lead_in not in chosen and used_words + unit.words() + lead_in.words() <= max_words:
            chosen.append(lead_in)  # "This is often referred to as..." needs what "this" is
            used_words += lead_in.words()
        chosen.append(unit)
        used_words += unit.words()
        return True

    take(best, force=True)
    follow_on = _next_in_paragraph(best, candidates)
    if follow_on:
        # The list a sentence leads into always comes with it: lists are never cut by the budget.
        take(follow_on, force=bool(follow_on.items))
    opening = len(chosen)  # these read as one passage and come first
    covered = set().union(*(u.full_terms for u in chosen)) & wanted
    unmet = [i for i in intents if not any(satisfied(i, u.full_text) and on_topic(u) for u in chosen)]

    for score, unit in scored[1:]:
        if score < 0.5 * best_score or unit in chosen or _overlaps(unit, chosen) or not on_topic(unit):
            continue
        new_terms = (unit.full_terms & wanted) - covered
        meets_intent = any(satisfied(i, unit.full_text) for i in unmet)
        if (new_terms or meets_intent) and take(unit):
            covered |= new_terms
            unmet = [i for i in unmet if not satisfied(i, unit.full_text)]

    evidence_terms = set().union(*(u.full_terms | u.heading_terms for u in chosen))
    coverage, missing = measure_coverage(required_terms, evidence_terms, idf)
    first = chosen[0]
    # "This is the highest level..." first in its section: its heading says what "this" is.
    label = first.chunk.section.split(" > ")[-1] if FOLLOW_ON.match(first.text) and not first.context else ""
    text, citations = render(chosen[:opening], chosen[opening:], label)
    return Composition(text, citations, chosen, coverage, missing, [i.name for i in unmet], passage_scores)


def score_unit(
    unit: Unit, wanted: set[str], intents: list[Intent], idf, definition: bool, procedure: bool = False
) -> float:
    head = unit.text_terms & wanted
    in_items = (unit.full_terms & wanted) - head
    in_context = (unit.context_terms & wanted) - head - in_items
    in_heading = (unit.heading_terms & wanted) - head - in_items - in_context
    holds_fact = any(satisfied(i, unit.full_text) for i in intents)
    score = sum(idf(t) for t in head) + 0.5 * sum(idf(t) for t in in_items)
    if holds_fact:
        # "In 2021/22 this totals £5m": the fact asked for, about what the sentence before names.
        score += 0.5 * sum(idf(t) for t in in_context)
    if score == 0:
        return 0.0
    score += 0.5 * sum(idf(t) for t in in_heading)  # "A full audit..." under "IASME Gold"
    if holds_fact:
        score *= 1.5
    if definition and _defines(unit.text, wanted):
        score *= 1.6  # "X is ..." answers "what is X" better than a sentence that only uses X
    if procedure and unit.items:
        score *= 1.3  # "how do I..." is best answered by the steps, kept as a list
    # Of two sentences that match alike, the shorter says it more directly (a list's items do
    # not count against it: lists are meant to be whole).
    return score / (1 + 0.05 * unit.rank) / (1 + len(unit.text.split()) / 100)


def _defines(sentence: str, wanted: set[str]) -> bool:
    """'Market warming is the stage...': a wanted word opens the sentence, then a defining verb."""
    opening = " ".join(sentence.split()[:8])
    match = DEFINING_VERB.search(opening)
    return match is not None and bool(set(terms(opening[: match.start()])) & wanted)


def measure_coverage(required: list[str], evidence: set[str], idf) -> tuple[float, list[str]]:
    """Share of the question's weight (rare words weigh more) that the evidence contains."""
    unique = list(dict.fromkeys(required))
    total = sum(idf(t) for t in unique)
    if total == 0:
        return 1.0, []
    missing = [t for t in unique if t not in evidence]
    return 1 - sum(idf(t) for t in missing) / total, missing


def _next_in_paragraph(unit: Unit, candidates: list[Unit]) -> Unit | None:
    """The unit right after `unit` when it leans on it ("This is a self-assessment...") or is the
    list that the sentence leads into ("There are 14 service categories:")."""
    if unit.items:
        return None
    for other in candidates:
        if (
            other.chunk is unit.chunk
            and other.paragraph == unit.paragraph
            and other.order == unit.order + 1
            and (FOLLOW_ON.match(other.text) or other.items)
        ):
            return other
    return None


def _previous_in_paragraph(unit: Unit, candidates: list[Unit]) -> Unit | None:
    for other in candidates:
        if other.chunk is unit.chunk and other.paragraph == unit.paragraph and other.order == unit.order - 1:
            return other
    return None


def _overlaps(unit: Unit, chosen: list[Unit]) -> bool:
    """A list item is already shown when its list is; the same sentence twice is no use."""
    body = strip_markdown(unit.text)
    for other in chosen:
        if strip_markdown(other.text) == body or (other.items and body in strip_markdown(other.full_text)):
            return True
        if unit.items and strip_markdown(other.text) in strip_markdown(unit.full_text):
            return True
    return False


def render(opening: list[Unit], rest: list[Unit], label: str = "") -> tuple[str, list[Citation]]:
    """The best unit (with its lead-in and follow-on) first, the rest in document order;
    sources are numbered as they first appear."""
    ordered = opening + sorted(rest, key=lambda u: (u.chunk.position, u.order))
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    parts: list[str] = []
    for unit in ordered:
        cid = unit.chunk.chunk_id
        if cid not in numbers:
            numbers[cid] = len(numbers) + 1
            citations.append(
                Citation(
                    n=numbers[cid],
                    title=unit.chunk.title,
                    section=unit.chunk.section,
                    url=text_fragment_link(unit.chunk.url, unit.text),
                    quote=unit.chunk.text,
                    chunk_id=cid,
                    date=unit.chunk.date,
                )
            )
        rendered = unit.render(f"[{numbers[cid]}]")
        if label and not parts:
            rendered = f"**{label}**: {rendered}"
        parts.append(rendered)
    text = ""
    for part in parts:
        if not text:
            text = part
        elif "\n" in part or "\n" in text.split("\n\n")[-1]:
            text += "\n\n" + part  # a list keeps blank lines around it so Markdown shows it as one
        else:
            text += " " + part
    return text, citations
