"""Clinks guidance assistant: grounded answers, with citations, about probation commissioning."""

from assistant.answering.answer import Answer, Citation, Turn

__all__ = ["Answer", "Citation", "Turn", "ask"]


def ask(question: str, history=None, settings=None) -> Answer:
    """Answer one question (the Python API); history is earlier turns, oldest first."""
    from assistant.service import default_service

    return default_service(settings).ask(question, history or [])
