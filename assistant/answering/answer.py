"""What an answer is: the text, its numbered citations, a status, and how long each stage took."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Status(StrEnum):
    ANSWERED = "answered"
    DECLINED_OUT_OF_SCOPE = "declined_out_of_scope"
    DECLINED_NOT_COVERED = "declined_not_covered"
    INVALID_QUESTION = "invalid_question"  # empty, too long, not English...: a message, no search
    ERROR = "error"


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True)
class Citation:
    n: int
    title: str
    section: str
    url: str  # deep link to the cited sentence
    quote: str  # the passage the answer drew on
    chunk_id: str = ""
    date: str = ""


@dataclass
class Answer:
    text: str
    status: Status
    citations: list[Citation] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    retrieved_ids: list[str] = field(default_factory=list)  # ranked passages it was composed from
    answer_id: str = ""
    signals: dict[str, float] = field(default_factory=dict)  # what the decision to answer weighed
    confident: bool = True  # False: answered with a warning that it may not be exactly what was asked
    answered_by: str = "extractive"  # "llm": written by the language model, every sentence checked
    model_report: dict = field(default_factory=dict)  # the model's outcome, tokens, dropped sentences (not in JSON)
    message: str = ""  # a canned message's name (prompts/<name>.md): the chat shows it in the reader's language

    @property
    def declined(self) -> bool:
        return self.status is not Status.ANSWERED

    def to_json(self) -> dict:
        return {
            "answer_id": self.answer_id,
            "answer": self.text,
            "citations": [
                {k: v for k, v in asdict(c).items() if k in ("n", "title", "section", "url", "quote", "date")}
                for c in self.citations
            ],
            "declined": self.declined,
            "confident": self.confident and not self.declined,
            "status": self.status.value,
            "answered_by": self.answered_by,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "retrieved_ids": self.retrieved_ids,
            "message": self.message,
        }
