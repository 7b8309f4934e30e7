"""The answer path: one list of named stages over one context, read top to bottom.

Each stage may finish the answer early (a decline, a message about the question); the first
one that sets `ctx.answer` ends the run. Every stage's time is recorded on the answer.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from assistant.answering.answer import Answer, Status, Turn
from assistant.answering.compose import Composition, compose, strip_markdown, weights_for
from assistant.answering.decide import HEDGE_BELOW, DecisionModel, fallback_rule
from assistant.answering.followup import Condensed, condense
from assistant.answering.intents import Intent, question_intents
from assistant.answering.prompts import Prompts
from assistant.answering.question_checks import (
    clean,
    is_about_one_persons_case,
    is_task_request,
    looks_english,
    looks_welsh,
)
from assistant.answering.question_parts import split_parts
from assistant.answering.retrieve import Passage, Retriever
from assistant.answering.spelling import Speller
from assistant.corpus.glossary import Glossary
from assistant.corpus.index import IndexError_
from assistant.corpus.unit_vectors import UnitVectors
from assistant.settings import Settings
from assistant.text import terms

log = logging.getLogger(__name__)

LEADING_REQUEST = re.compile(
    r"^\s*(please\s+)?(can you\s+)?(list|show( me)?|give( me)?|tell me( about)?|explain|describe|name)\b\s*",
    re.IGNORECASE,
)
GENERIC_FAILURE = "Something went wrong on our side; please try again in a moment."
# A follow-up leans on the last exchange or two, never on the whole conversation: only these
# last turns are read, each cut to a bounded length, so a long or pasted history costs nothing.
HISTORY_TURNS_USED = 4


class Writer(Protocol):
    """A language model that writes the answer from the passages (assistant/llm/ builds one): it
    sets `ctx.answer` from sentences that pass its checks, or leaves it unset."""

    def write(self, ctx: Context) -> None: ...


@dataclass
class Deps:
    retriever: Retriever
    glossary: Glossary
    prompts: Prompts
    settings: Settings
    unit_vectors: UnitVectors | None = None  # sentence vectors made at ingest
    decision_model: DecisionModel | None = None  # None: the coverage rule decides
    speller: Speller | None = None  # misspelt words, as the guidance or English writes them
    llm: Writer | None = None  # the optional language model (ASSISTANT_LLM_PROVIDER); None: quotes only
    documents: frozenset[str] = frozenset()  # names of the indexed documents (served at /documents/)
    version: str = ""  # of the index (manifest.json), for the health check


@dataclass
class Context:
    question: str
    history: Sequence[Turn]
    deps: Deps
    text: str = ""  # the question as plain text
    condensed: Condensed | None = None
    intents: list[Intent] = field(default_factory=list)
    query_terms: list[str] = field(default_factory=list)
    required_terms: list[str] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    query_vector: list[float] | None = None  # the question with what it borrows: finds passages
    ask_vector: list[float] | None = None  # what this question itself asks: chooses sentences
    part_vectors: list[list[float]] = field(default_factory=list)  # each part of a two-part question
    composition: Composition | None = None
    signals: dict[str, float] = field(default_factory=dict)
    hedged: bool = False
    on_piece: Callable[[str], None] | None = None  # streaming: each checked sentence, as it passes
    model_report: dict = field(default_factory=dict)  # what the language model did, when it is on
    answer: Answer | None = None

    def finish(self, status: Status, text: str, message: str = "") -> None:
        self.answer = Answer(text=text, status=status, message=message)

    def finish_with(self, status: Status, name: str, **values: str) -> None:
        """Finish with the canned message prompts/<name>.md, named in the answer (the chat shows
        its own translation of it)."""
        self.finish(status, self.deps.prompts.render(name, **values), message=name)


def check_question(ctx: Context) -> None:
    """Empty, too long or markup only: a message about the question itself."""
    settings = ctx.deps.settings
    ctx.history = bounded_history(ctx.history, settings)
    raw = ctx.question or ""
    if len(raw) > settings.max_question_chars:
        ctx.finish_with(
            Status.INVALID_QUESTION,
            "invalid_too_long",
            length=f"{len(raw):,}",
            max_chars=f"{settings.max_question_chars:,}",
        )
        return
    ctx.text, had_markup = clean(raw)
    if not ctx.text or not any(ch.isalnum() for ch in ctx.text):
        name = "invalid_markup" if had_markup else "invalid_empty"
        ctx.finish_with(Status.INVALID_QUESTION, name)


def correct_spelling(ctx: Context) -> None:
    """ "probaiton" -> "probation", before anything searches or reads the question."""
    if ctx.deps.speller is not None:
        ctx.text = ctx.deps.speller.respell(ctx.text)


def screen_question(ctx: Context) -> None:
    """Not English (once typos are fixed: "wht is teh dynamc framwork" is English; a question in
    Welsh is told, in Welsh and English, that the guidance is in English), a task rather than a
    question, or one person's case: each gets its own message before any search."""
    if not looks_english(ctx.text, ctx.deps.retriever.known):
        welsh = looks_welsh(clean(ctx.question or "")[0])  # as typed: the speller may have "corrected" it
        ctx.finish_with(Status.INVALID_QUESTION, "invalid_welsh" if welsh else "invalid_not_english")
    elif is_task_request(ctx.text):
        ctx.finish_with(Status.DECLINED_OUT_OF_SCOPE, "declined_out_of_scope")
    elif is_about_one_persons_case(ctx.text):
        ctx.finish_with(Status.DECLINED_OUT_OF_SCOPE, "declined_individual_case")


def bounded_history(history: Sequence[Turn], settings: Settings) -> list[Turn]:
    """The last few turns, each no longer than a question (user) or an answer (assistant) can be."""
    limits = {"user": settings.max_question_chars, "assistant": settings.max_history_turn_chars}
    return [
        Turn(t.role, t.content[: limits[t.role]])
        for t in list(history)[-HISTORY_TURNS_USED:]
        if t.role in limits and isinstance(t.content, str)
    ]


def condense_follow_up(ctx: Context) -> None:
    """Borrow the subject of the earlier question when this one leans on it."""
    history = [Turn(t.role, clean(t.content)[0]) for t in ctx.history]
    ctx.condensed = condense(ctx.text, history, lambda q: _has_subject(ctx, q))
    ctx.intents = question_intents(ctx.condensed.search_text, ctx.deps.retriever.known)


def check_scope(ctx: Context) -> None:
    """Decline when nothing in the question is a word the guidance uses."""
    retriever = ctx.deps.retriever
    # Acronyms the guidance never uses ("CE+") are checked for in their spelt-out form; names it
    # does use ("IASME") are checked for as they are, so their long forms do not crowd them out.
    asked = LEADING_REQUEST.sub("", ctx.condensed.search_text)  # "list the categories" asks for categories
    spelt_out = ctx.deps.glossary.spell_out(asked, known=lambda name: all(retriever.known(t) for t in terms(name)))
    ctx.query_terms = retriever.query_terms(spelt_out, expand=False)
    intent_words = set().union(*(i.words for i in ctx.intents)) if ctx.intents else set()
    ctx.required_terms = [t for t in ctx.query_terms if t not in intent_words]
    if not _has_subject(ctx, ctx.condensed.search_text):
        ctx.finish_with(Status.DECLINED_OUT_OF_SCOPE, "declined_out_of_scope")


def retrieve(ctx: Context) -> None:
    retriever = ctx.deps.retriever
    # One batch of encodings per question: the searched text, the new question on its own when a
    # follow-up borrowed its subject (the topic comes from before, the ask from now), and the parts.
    resolved = ctx.condensed.resolved
    own = [resolved or ctx.text] if ctx.condensed.borrowed else []
    parts = split_parts(ctx.text)
    vectors = retriever.encode([ctx.condensed.search_text, *own, *parts])
    ctx.query_vector = vectors[0]
    ctx.ask_vector = (vectors[1] if resolved else _mean(vectors[0], vectors[1])) if own else vectors[0]
    ctx.part_vectors = vectors[1 + len(own) :]
    # A follow-up that points back ("how many of them are there") is most likely answered where
    # the last answer was: the passages it quoted join the search.
    quoted = retriever.quoted_by(ctx.condensed.last_answer) if ctx.condensed.last_answer else []
    ctx.passages = retriever.search(ctx.condensed.search_text, ctx.deps.settings.top_k, ctx.query_vector, quoted)


def write_with_model(ctx: Context) -> None:
    """Optional (ASSISTANT_LLM_PROVIDER): the model writes the answer from the retrieved passages,
    sentence by checked sentence; otherwise, or when it fails, the quoted answer follows."""
    if ctx.deps.llm is not None and ctx.passages:
        ctx.deps.llm.write(ctx)


def compose_answer(ctx: Context) -> None:
    units = ctx.deps.unit_vectors
    ctx.composition = compose(
        question=ctx.text,
        query_terms=ctx.query_terms,
        required_terms=ctx.required_terms,
        intents=ctx.intents,
        passages=[p.chunk for p in ctx.passages],
        idf=ctx.deps.retriever.idf,
        max_words=ctx.deps.settings.max_answer_words,
        defining_quotes=tuple(e.quote for e in ctx.deps.glossary.matches(ctx.condensed.search_text)),
        unit_vectors=units.matrix if units is not None else None,
        ask_vector=ctx.ask_vector,
        part_vectors=ctx.part_vectors,
        already_said=ctx.condensed.last_answer,
        known=ctx.deps.retriever.known,
        weights=weights_for(getattr(ctx.deps.retriever.embedder, "name", "")),
        passage_similarity={p.chunk.chunk_id: p.dense for p in ctx.passages},
    )
    if ctx.composition is None:
        _decline_not_covered(ctx)
        return
    # Rerank: the passage holding the sentence that best answers the question comes first.
    scores = ctx.composition.passage_scores
    ctx.passages.sort(key=lambda p: -scores.get(p.chunk.chunk_id, 0.0))


def decide(ctx: Context) -> None:
    """Grounded or silent: one calibrated score over the answer's signals (see decide.py)."""
    ctx.signals = ctx.composition.signals | retrieval_signals(ctx.passages, ctx.composition)
    model = ctx.deps.decision_model
    decision = model.decide(ctx.signals) if model else fallback_rule(ctx.signals, ctx.deps.settings.min_coverage)
    if decision.probability is not None:
        ctx.signals["probability"] = decision.probability
    if not decision.answer:
        _decline_not_covered(ctx)
    elif decision.probability is not None and decision.probability < HEDGE_BELOW:
        ctx.hedged = True  # answered, but said plainly that it may not be exactly what was asked


def retrieval_signals(passages: list[Passage], composition: Composition) -> dict[str, float]:
    """Do keyword and vector search agree on the passage the answer quotes first?"""
    first = composition.units[0].chunk.chunk_id if composition.units else ""
    by_bm25 = sorted(passages, key=lambda p: -p.bm25)[:3]
    by_dense = sorted(passages, key=lambda p: -p.dense)[:3]
    agree = (first in {p.chunk.chunk_id for p in by_bm25}) + (first in {p.chunk.chunk_id for p in by_dense})
    return {"agreement": agree / 2, "dense_top": round(max((p.dense for p in passages), default=0.0), 4)}


def check_citations(ctx: Context) -> None:
    """Every quoted sentence must stand, word for word, in the passage its marker points to."""
    c = ctx.composition
    by_n = {citation.n: citation for citation in c.citations}
    for unit in c.units:
        cited = next(x for x in by_n.values() if x.chunk_id == unit.chunk.chunk_id)
        is_heading = unit.heading and unit.text == unit.chunk.section.split(" > ")[-1]
        if not is_heading and strip_markdown(unit.text) not in strip_markdown(cited.quote):
            raise AssertionError("an answer sentence is not in the passage it cites")
    text = f"{ctx.deps.prompts.render('answer_uncertain')}\n\n{c.text}" if ctx.hedged else c.text
    ctx.answer = Answer(text=text, status=Status.ANSWERED, citations=c.citations, confident=not ctx.hedged)


STAGES: tuple[Callable[[Context], None], ...] = (
    check_question,
    correct_spelling,
    screen_question,
    condense_follow_up,
    check_scope,
    retrieve,
    write_with_model,  # optional (assistant/llm/): does nothing unless a language model is set
    compose_answer,
    decide,
    check_citations,
)


def run(question: str, history: Sequence[Turn], deps: Deps, on_piece: Callable[[str], None] | None = None) -> Answer:
    ctx = Context(question=question, history=history, deps=deps, on_piece=on_piece)
    timings: dict[str, float] = {}
    try:
        for stage in STAGES:
            started = time.perf_counter()
            stage(ctx)
            timings[stage.__name__] = (time.perf_counter() - started) * 1000
            if ctx.answer is not None:
                break
    except IndexError_ as err:
        log.warning("Answering failed: %s", err)
        ctx.answer = Answer(
            text=deps.prompts.render("error", reason=err.user_message), status=Status.ERROR, message="error"
        )
    except Exception:
        # The question may hold personal data, so the log names the failure, not the question.
        log.exception("Answering failed in stage %s", stage.__name__)
        ctx.answer = Answer(
            text=deps.prompts.render("error", reason=GENERIC_FAILURE), status=Status.ERROR, message="error"
        )
    answer = ctx.answer
    answer.signals = ctx.signals
    answer.model_report = ctx.model_report
    answer.timings_ms = timings
    answer.retrieved_ids = [p.chunk.chunk_id for p in ctx.passages]
    answer.answer_id = uuid.uuid4().hex
    return answer


def _mean(a: list[float], b: list[float]) -> list[float]:
    v = np.asarray(a) + np.asarray(b)
    return (v / (np.linalg.norm(v) or 1.0)).tolist()


def _has_subject(ctx: Context, text: str) -> bool:
    retriever = ctx.deps.retriever
    return any(retriever.known(t) for t in retriever.query_terms(text))


def _decline_not_covered(ctx: Context) -> None:
    ctx.finish_with(Status.DECLINED_NOT_COVERED, "declined_not_covered")
