import re

import pytest

from assistant.answering.prompts import Prompts
from tests.conftest import ROOT

VALUES = {
    "length": "5,000",
    "max_chars": "1,000",
    "reason": "Because.",
    "assistant_name": "N",
    "scope": "S",
    "help": "H",
    "example": "",
    "question": "Q",
    "earlier": "",
    "passages": "P",
}


def test_every_prompt_renders_and_a_missing_variable_fails():
    prompts = Prompts(ROOT / "prompts")
    assert len(prompts.names()) >= 6
    for name in prompts.names():
        assert "$" not in prompts.render(name, **VALUES)
    with pytest.raises(KeyError):
        prompts.render("invalid_too_long")


def test_messages_only_give_contacts_the_guidance_gives():
    corpus = (ROOT / "corpus" / "probation-services.md").read_text().lower()
    for path in (ROOT / "prompts").glob("*.md"):
        text = path.read_text()
        for contact in re.findall(r"[\w.]+@[\w.]+\w|\b0\d{3} \d{4} \d{3}\b", text):
            assert contact.lower() in corpus, f"{path.name} gives {contact}, which the guidance does not"
