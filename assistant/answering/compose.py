"""The extractive composer: an answer made only of sentences and lists quoted from passages.

No LLM is needed and nothing can be invented: every sentence of the answer is a sentence of a
cited passage. The composer picks the units (sentences, or a list with the sentence that
introduces it) that best answer the question, by meaning and by words, within a word budget,
numbers the sources, and reports the signals the decision to answer weighs (see decide.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.answering.answer import Citation
from assistant.answering.intents import Intent, satisfied
from assistant.corpus.chunking import Chunk, strip_markdown, text_fragment_link
from assistant.corpus.embeddings import embedder_kind
from assistant.corpus.units import Unit, units_of
from assistant.text import terms

DEFINITION_QUESTION = re.compile(
    r"\b(what|wat)\s*(is|are|was|were|'s)\b|^\s*(whats|what's)\b|\bmean(s|ing)?\b|\bstand for\b|\bdefin|\bexplain",
    re.IGNORECASE,
)
DEFINING_VERB = re.compile(r"\b(is|are|refers to|means|was)\b")
FOLLOW_ON = re.compile(r"^(This|It|They|These|Once|However)\b")
PROCEDURE_QUESTION = re.compile(
    r"\bhow (do|can|to|should|would)\b|\bsteps?\b|\bneed to\b|\brequire|\bwhat (do|does) .{0,40}\bneed\b|\blist\b|\bwhich\b|\bwhat are\b",
    re.IGNORECASE,
)


@dataclass
class Composition:
    text: str
    citations: list[Citation]
    units: list[Unit]
    coverage: float
    missing_terms: list[str]
    unmet_intents: list[str]
    passage_scores: dict[str, float] = field(default_factory=dict)  # chunk id -> best unit score
    signals: dict[str, float] = field(default_factory=dict)  # what the decision to answer weighs


@dataclass(frozen=True)
class Weights:
    """How meaning and words are combined to choose sentences (tuned on the dev halves and the
    training-only questions of evals/decision-train/; never on the test halves: see note 005)."""

    lexical: float = 0.2  # the lexical score, scaled so the best unit has 1, beside the cosine
    on_topic_cosine: float = 0.45  # this close in meaning, a unit is on topic without the words
    extra_share: float = 0.7  # a further unit must score at least this share of the best
    neighbour_share: float = 0.7  # a sentence beside the best one joins it when it scores this share
    same_passage_share: float = 0.8  # more from a cited passage, when it scores this share of the best
    new_passage_share: float = 0.8  # to cite another passage, a unit must score this share of the best
    repeat_penalty: float = 0.85  # a sentence the last answer already quoted (a follow-up asks for more)
    passage: float = 0.25  # the vector similarity of a sentence's passage to the question, added to its score
    feedback: float = 0.6  # how far the question moves towards its best-matching sentences (0: not at all)
    feedback_units: int = 3  # how many of them
    holds_fact: float = 0.15  # added when a sentence holds the kind of fact asked for (a date, an amount...)


WEIGHTS = Weights()
# With the hashing fallback the "cosine" is itself lexical (hashed n-grams), so the lexical score,
# which knows idf, intents and definitions, must lead (dev halves: fact recall 0.53 -> 0.61).
HASHING_WEIGHTS = Weights(lexical=3.0, passage=0.0, feedback=0.0)


# The reader (note 013) ranks sentences by meaning well enough that words count for less, and a
# second passage is cited only when its sentence scores 0.9 of the best (dev: citation precision
# reader-dev 0.758 -> 0.778, other 0.660 -> 0.744, with fact recall up on every set; at 0.95
# citation precision rose further but "what is the minimum cyber security level" lost its answer).
READER_WEIGHTS = Weights(repeat_penalty=0.92, lexical=0.1, new_passage_share=0.9, neighbour_share=0.6)


def weights_for(embedder_name: str) -> Weights:
    return {"hashing": HASHING_WEIGHTS, "reader": READER_WEIGHTS}.get(embedder_kind(embedder_name), WEIGHTS)


def compose(
    question: str,
    query_terms: list[str],
    required_terms: list[str],
    intents: list[Intent],
    passages: list[Chunk],
    idf,
    max_words: int,
    defining_quotes: tuple[str, ...] = (),
    unit_vectors: Callable[[list[Unit]], np.ndarray] | None = None,
    ask_vector=None,
    part_vectors: Sequence = (),
    already_said: str = "",
    known: Callable[[str], bool] | None = None,
    weights: Weights = WEIGHTS,
    passage_similarity: dict[str, float] | None = None,
) -> Composition | None:
    """The answer, or None when no passage has anything to say about the question.

    Each unit is scored by its cosine with the question (`unit_vectors` gives the units' vectors,
    made at ingest, as rows) plus its lexical match; the lexical score alone is used when there
    are no vectors. Each of `part_vectors` (the parts of a two-part question) gets its best unit.
    """
    wanted = set(query_terms)
    candidates = [u for rank, chunk in enumerate(passages) for u in units_of(chunk, rank)]
    similarity = unit_vectors is not None
    if not candidates or not (wanted or similarity):
        return None
    definition = DEFINITION_QUESTION.search(question) is not None
    procedure = PROCEDURE_QUESTION.search(question) is not None
    lexical = np.array([score_unit(u, wanted, intents, idf, definition, procedure) for u in candidates])
    if definition and defining_quotes:
        # The glossary says where each term is defined: for "what is X", that sentence first.
        lexical = np.array(
            [s * 2 if any(q in u.full_text for q in defining_quotes) else s for s, u in zip(lexical, candidates)]
        )
    top = lexical.max() if len(lexical) else 0.0
    lexical_share = lexical / top if top > 0 else lexical
    vectors = unit_vectors(candidates) if similarity else None  # looked up once, used for every part
    cosine = vectors @ np.asarray(ask_vector, dtype=np.float32) if similarity else np.zeros(len(candidates))
    own_cosine = cosine  # the question's own: what the decision to answer weighs
    combined = cosine + weights.lexical * lexical_share if similarity else lexical_share
    if similarity and weights.feedback:
        # Pseudo-relevance feedback: the question moves towards the sentences that match it best,
        # so the words it lacks ("knocked back") are supplied by how the guidance says it.
        leading = np.argsort(-combined)[: weights.feedback_units]
        refined = np.asarray(ask_vector, dtype=np.float32) + weights.feedback * vectors[leading].mean(axis=0)
        cosine = vectors @ (refined / (np.linalg.norm(refined) or 1.0))
        combined = cosine + weights.lexical * lexical_share
    if similarity and passage_similarity and weights.passage:
        # A sentence in a passage that is about the question, as a whole, is more likely to answer it.
        combined = combined + weights.passage * np.array(
            [passage_similarity.get(u.chunk.chunk_id, 0.0) for u in candidates]
        )
    if similarity and intents and weights.holds_fact:
        # "how long have we got to reply": a sentence holding a duration is likelier the answer.
        combined = combined + weights.holds_fact * np.array(
            [any(satisfied(i, u.full_text) for i in intents) for u in candidates], dtype=np.float32
        )
    said = strip_markdown(already_said)
    if said:
        combined = np.array(
            [c * weights.repeat_penalty if strip_markdown(u.text) in said else c for c, u in zip(combined, candidates)]
        )
    cos_of = {id(u): float(c) for u, c in zip(candidates, cosine)}
    own_of = {id(u): float(c) for u, c in zip(candidates, own_cosine)}
    scored = [(float(c), u) for c, u in zip(combined, candidates) if c > 0]
    if not scored:
        return None
    scored.sort(key=lambda su: (-su[0], su[1].rank, su[1].order))
    passage_scores: dict[str, float] = {}
    for score, unit in scored:
        passage_scores.setdefault(unit.chunk.chunk_id, score)
    required = list(dict.fromkeys(required_terms))
    # Words the guidance never uses cannot be in any evidence: only the others can show a topic.
    known_required = [t for t in required if known is None or known(t)]

    def on_topic(unit: Unit) -> bool:
        # A unit must be about the question's subject: evidence of cost, a date or a number from
        # a sentence about something else proves nothing. Its words, or its meaning, say so.
        if similarity and cos_of[id(unit)] >= weights.on_topic_cosine:
            return True
        if not known_required:
            return False
        evidence = unit.full_terms | unit.context_terms | unit.heading_terms
        return measure_coverage(known_required, evidence, idf)[0] >= 0.5

    best_score, best = next(((s, u) for s, u in scored if on_topic(u)), scored[0])
    if procedure:
        # "What do I need to send in? want a checklist": one item of the list is not the answer.
        best = _whole_list(best, candidates) or best
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
    covered = set().union(*(u.full_terms for u in chosen)) & wanted
    unmet = [i for i in intents if not any(satisfied(i, u.full_text) and on_topic(u) for u in chosen)]
    cited = {u.chunk.chunk_id for u in chosen}

    # A question that asks two things gets the best sentence for each part as well.
    for part_vector in part_vectors if similarity else ():
        part_scores = vectors @ np.asarray(part_vector, dtype=np.float32) + weights.lexical * lexical_share
        for i in np.argsort(-part_scores):
            unit = candidates[int(i)]
            if on_topic(unit):
                if unit not in chosen and not _overlaps(unit, chosen) and take(unit):
                    cited.add(unit.chunk.chunk_id)
                    covered |= unit.full_terms & wanted
                    unmet = [x for x in unmet if not satisfied(x, unit.full_text)]
                break

    # The sentences around the best one that say as much to the question finish its thought
    # (a rule and its exception, a frequency and its longer cycle): they come along, in order.
    score_of = {id(u): s for s, u in scored}
    for neighbour in _neighbours(best, candidates):
        if neighbour not in chosen and score_of.get(id(neighbour), 0.0) >= weights.neighbour_share * best_score:
            take(neighbour)
    for score, unit in scored[1:]:
        if score < weights.extra_share * best_score or unit in chosen or _overlaps(unit, chosen) or not on_topic(unit):
            continue
        new_terms = (unit.full_terms & wanted) - covered
        meets_intent = any(satisfied(i, unit.full_text) for i in unmet)
        # More from a passage already cited costs no new source; another passage must add something.
        same_passage = unit.chunk.chunk_id in cited
        close = same_passage and score >= weights.same_passage_share * best_score
        new_share = weights.new_passage_share * best_score
        if not same_passage and score < new_share:
            continue
        if (new_terms or meets_intent or close) and take(unit):
            covered |= new_terms
            cited.add(unit.chunk.chunk_id)
            unmet = [i for i in unmet if not satisfied(i, unit.full_text)]

    # A quote does not skip the middle of a thought: a sentence between two quoted ones comes too.
    for unit in candidates:
        beside = [u.order - unit.order for u in chosen if u.chunk is unit.chunk and u.paragraph == unit.paragraph]
        if unit not in chosen and -1 in beside and 1 in beside:
            take(unit)

    # The best sentence's paragraph reads first, in order; the rest follow in document order.
    opening_units = sorted(
        (u for u in chosen if u.chunk is best.chunk and u.paragraph == best.paragraph), key=lambda u: u.order
    )
    if follow_on in chosen and follow_on not in opening_units:
        opening_units.append(follow_on)
    chosen = opening_units + [u for u in chosen if u not in opening_units]
    opening = len(opening_units)
    evidence_terms = set().union(*(u.full_terms | u.heading_terms for u in chosen))
    coverage, missing = measure_coverage(required_terms, evidence_terms, idf)
    first = chosen[0]
    # "This is the highest level..." first in its section: its heading says what "this" is.
    label = first.chunk.section.split(" > ")[-1] if FOLLOW_ON.match(first.text) and not first.context else ""
    text, citations = render(chosen[:opening], chosen[opening:], label)
    # Words the guidance uses elsewhere but the quoted evidence lacks point to a fact that is not
    # there ("the RPD for the North West"); words it never uses are often just everyday paraphrase.
    coverage_known = measure_coverage(known_required, evidence_terms, idf)[0]
    total_weight = sum(idf(t) for t in required) or 1.0
    unknown_share = sum(idf(t) for t in required if t not in known_required) / total_weight
    signals = {
        "coverage_known": round(coverage_known, 4),
        "unknown_share": round(unknown_share, 4),
        "cosine_margin": round(own_of[id(best)] - float(np.median(own_cosine)), 4) if similarity else 0.0,
        "cosine_best": round(max(own_of[id(u)] for u in chosen), 4) if similarity else 0.0,
        "cosine_first": round(own_of[id(best)], 4) if similarity else 0.0,
        "lexical_first": round(float(lexical[candidates.index(best)] / top) if top > 0 else 0.0, 4),
        "coverage": round(coverage, 4),
        "intent_unmet": 1.0 if unmet else 0.0,
        "opening_words": round(min(sum(u.words() for u in chosen[:opening]), 20) / 20, 4),
    }
    return Composition(text, citations, chosen, coverage, missing, [i.name for i in unmet], passage_scores, signals)


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


def _whole_list(item: Unit, candidates: list[Unit]) -> Unit | None:
    """The list (with its intro) that `item` is one item of, or None when it is not an item."""
    if item.item_of < 0:
        return None
    return next((u for u in candidates if u.chunk is item.chunk and u.paragraph == item.item_of and u.items), None)


def _neighbours(unit: Unit, candidates: list[Unit]) -> list[Unit]:
    """The units just before and after `unit` in its paragraph."""
    return [
        other
        for other in candidates
        if other.chunk is unit.chunk and other.paragraph == unit.paragraph and abs(other.order - unit.order) == 1
    ]


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
