"""The writer behind the answer path's optional stage (`write_with_model`, answering/pipeline.py):
a language model writes the answer from the retrieved passages, and only sentences that pass
every check in `checks.py` are shown.

The rules, in the order they apply to a reply:
- "NOT COVERED" as the first sentence: the standard decline (contacts only from the deployer's file);
- the first sentence must pass (it is the direct answer): if it fails, the reply is not used;
- later sentences that fail are dropped, the rest kept;
- the answer stands only when it holds the kind of fact asked for (an amount, a date, a count...:
  the same rule the quoted answer obeys, `intents.py`); until then nothing is shown;
- any fault (time limit, refused connection, an HTTP error, a rate limit, a malformed or empty
  reply) before anything was shown: the reply is not used.
When the reply is not used, the stage leaves the answer unset and the quoted answer is composed as
always, so the person gets the extractive answer within the time limit. Streaming: each kept
sentence goes to `ctx.on_piece` as it passes, so what was shown is always the final answer's text.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from assistant.answering.answer import Answer, Citation, Status
from assistant.answering.intents import Intent, satisfied
from assistant.answering.prompts import Prompts
from assistant.corpus.chunking import Chunk, text_fragment_link
from assistant.llm.call import ModelCaller, ModelFault
from assistant.llm.checks import Grounding, MeaningModel, Verdict, load_model
from assistant.llm.prompt import build
from assistant.llm.sentences import Sentence, SentenceStream
from assistant.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Writer:
    """The configured model with what checking its sentences needs."""

    caller: ModelCaller
    prompts: Prompts
    embedder: object
    unit_vectors: object | None  # UnitVectors: the passages' sentence vectors, made at ingest
    meaning: MeaningModel  # the fitted meaning check (grounding.json)
    timeout_s: float
    name: str = ""

    def write(self, ctx) -> None:
        passages = [p.chunk for p in ctx.passages]
        usage: dict[str, int] = {}
        prompt, draft = None, None
        started = time.monotonic()
        try:
            earlier = ctx.condensed.borrowed if ctx.condensed is not None else ""
            prompt = build(self.prompts, ctx.text, earlier, passages)
            matrix = self.unit_vectors.matrix if self.unit_vectors is not None else None
            grounding = Grounding(passages, self.embedder, matrix, self.meaning, prompt.system)
            draft = Draft(passages, ctx.intents, ctx.on_piece)
            reply = self.caller.reply(
                prompt.messages(), started + self.timeout_s, streaming=ctx.on_piece is not None, usage=usage
            )
            outcome = _read(reply, draft, grounding)
        except ModelFault as fault:
            outcome = fault.kind
        except Exception as err:  # our own failure must not cost the person their answer
            log.exception("The model's answer could not be checked")
            outcome, draft = f"error_{type(err).__name__}", None
        ctx.model_report.update(
            model=self.name,
            outcome=outcome,
            dropped=dict(draft.dropped) if draft else {},
            input_tokens=usage.get("input_tokens", 0),
            output_tokens=usage.get("output_tokens", 0),
            redacted=sum(prompt.redacted.values()) if prompt else 0,
        )
        if draft is not None and draft.dropped:
            log.info("Model sentences dropped by the checks: %s", dict(draft.dropped))
        if outcome == "not_covered":
            ctx.answer = Answer(
                ctx.deps.prompts.render("declined_not_covered"), Status.DECLINED_NOT_COVERED, answered_by="llm"
            )
        elif draft is not None and draft.released:
            if outcome != "answered":
                log.warning("The model's reply ended early (%s); its checked sentences so far are the answer.", outcome)
                ctx.model_report["outcome"] = f"answered_then_{outcome}"
            ctx.answer = Answer(draft.text, Status.ANSWERED, draft.citations(), answered_by="llm")
        else:
            log.warning("The model's answer was not used (%s); answering by quoting the guidance.", outcome)


def _read(reply, draft: Draft, grounding: Grounding) -> str:
    """Feed the reply through the checks; the outcome's name."""
    stream = SentenceStream()
    for piece in reply:
        for sentence in stream.feed(piece):
            outcome = draft.add(sentence, grounding)
            if outcome:
                reply.close()  # stop reading: the rest cannot change the outcome
                return outcome
    for sentence in stream.close():
        outcome = draft.add(sentence, grounding)
        if outcome:
            return outcome
    return draft.finish()


@dataclass
class Draft:
    """The answer as its sentences pass: numbered citations, what was dropped and why."""

    passages: list[Chunk]
    intents: list[Intent]
    on_piece: object | None = None  # called with each piece of text once it may be shown
    kept: list[tuple[Sentence, Verdict]] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    released: bool = False  # the kept sentences may be shown (and were, when streaming)
    text: str = ""
    seen: int = 0
    _numbers: dict[int, int] = field(default_factory=dict)  # the model's passage number -> ours
    _links: dict[int, str] = field(default_factory=dict)

    def add(self, sentence: Sentence, grounding: Grounding) -> str:
        """'' to go on reading, or the outcome that ends the reply."""
        first = self.seen == 0
        self.seen += 1
        if first and sentence.not_covered:
            return "not_covered"
        verdict = grounding.check(sentence)
        if not verdict.ok:
            self.dropped[verdict.reason] += 1
            return f"first_sentence_{verdict.reason}" if first else ""
        self.kept.append((sentence, verdict))
        if self.released:
            self._show(sentence, verdict)
        elif self._answers():
            self.released = True
            for kept, kept_verdict in self.kept:
                self._show(kept, kept_verdict)
        return ""

    def finish(self) -> str:
        if not self.kept:
            return "no_sentence_passed"
        return "answered" if self.released else "fact_asked_for_missing"

    def _answers(self) -> bool:
        """Does what passed hold the kind of fact the question asks for (if it asks for one)?"""
        said = " ".join(s.body for s, _ in self.kept)
        return all(satisfied(i, said) for i in self.intents)

    def _show(self, sentence: Sentence, verdict: Verdict) -> None:
        markers = ""
        for n in sentence.cited:
            if n not in self._numbers:
                self._numbers[n] = len(self._numbers) + 1
                chunk = self.passages[n - 1]
                closest = verdict.closest
                on_this = closest is not None and closest.chunk.chunk_id == chunk.chunk_id
                self._links[n] = text_fragment_link(chunk.url, closest.text) if on_this else chunk.link
            markers += f"[{self._numbers[n]}]"
        body = sentence.body if sentence.body[-1:] in ".!?:" else sentence.body + "."
        piece = ("- " if sentence.bullet else "") + f"{body} {markers}"
        if self.text:
            piece = ("\n" if sentence.bullet else "\n\n" if sentence.new_line else " ") + piece
        self.text += piece
        if self.on_piece is not None:
            self.on_piece(piece)

    def citations(self) -> list[Citation]:
        return [
            Citation(ours, c.title, c.section, self._links[n], c.text, c.chunk_id, c.date)
            for n, ours in self._numbers.items()
            for c in [self.passages[n - 1]]
        ]


def make_writer(settings: Settings, prompts: Prompts, embedder, unit_vectors, model=None) -> Writer:
    """The writer the settings ask for; raises models.ModelUnavailable with what to do. `model`:
    a chat model to use instead of the configured one (the tests' fake models)."""
    if model is None:
        from assistant.llm.models import make_chat_model

        model = make_chat_model(settings)
    return Writer(
        ModelCaller(model),
        prompts,
        embedder,
        unit_vectors,
        load_model(getattr(embedder, "name", "")),
        settings.llm_timeout_s,
        f"{settings.llm_provider}:{settings.llm_model}",
    )
