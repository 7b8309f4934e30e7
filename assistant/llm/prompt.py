"""What the model is sent: the instructions (prompts/llm_system.md) and, as data, the question,
the earlier question it follows when it is a follow-up, and the retrieved passages, numbered
(prompts/llm_question.md). Both files are the deployer's to edit.

The question and passages are marked off with tags and declared as data; any such tag inside them
is removed, so neither can close its own section and pose as an instruction. Personal data is taken
out of the question (and the earlier question) before anything is sent (`assistant.stores.redact`). The
earlier answers are not sent: a follow-up is understood from the earlier question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answering.prompts import Prompts
from assistant.corpus.chunking import Chunk
from assistant.stores.redact import redact

SYSTEM = "llm_system"
QUESTION = "llm_question"
_TAGS = re.compile(r"<\s*/?\s*(question|earlier_question|passages?|instructions?|system)\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str
    redacted: dict[str, int]  # kinds of personal data taken out of the question, and how many

    def messages(self) -> list:
        from langchain_core.messages import HumanMessage, SystemMessage

        return [SystemMessage(self.system), HumanMessage(self.user)]


def build(prompts: Prompts, question: str, earlier_question: str, passages: list[Chunk]) -> Prompt:
    asked = redact(question)
    earlier = redact(earlier_question) if earlier_question else None
    numbered = "\n\n".join(
        f'<passage n="{n}" title="{_attr(p.title)}" section="{_attr(p.section)}">\n{_data(p.text)}\n</passage>'
        for n, p in enumerate(passages, start=1)
    )
    follow_up = (
        "It follows an earlier question, which says what it refers to:\n"
        f"<earlier_question>\n{_data(earlier.text)}\n</earlier_question>"
        if earlier
        else ""
    )
    user = prompts.render(QUESTION, question=_data(asked.text), earlier=follow_up, passages=numbered)
    found = dict(asked.found)
    for kind, count in (earlier.found if earlier else {}).items():
        found[kind] = found.get(kind, 0) + count
    return Prompt(prompts.render(SYSTEM), user, found)


def _data(text: str) -> str:
    """Text to be read, never obeyed: our tags taken out of it."""
    return _TAGS.sub(" ", text).strip()


def _attr(text: str) -> str:
    return _data(text).replace('"', "'").replace("\n", " ")
