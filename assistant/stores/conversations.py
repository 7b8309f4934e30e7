"""Which conversation a kept question came from, without anything that identifies a person.

The chat gives each conversation a random id (128 bits, made in the browser, kept with that tab's
conversation and forgotten with it); a question asked with one is stored with a digest of it, so
the console can count how many different conversations asked about a topic. The id says nothing
about who asked, and the same person's next conversation has another. Without an id (a script
calling the API), each question counts as its own conversation.
"""

from __future__ import annotations

import hashlib
import re

_ID = re.compile(r"^[0-9a-f]{16,64}$")


def conversation_key(conversation: str | None) -> str | None:
    """The digest kept for a conversation id, or None (no id, or not one the chat makes)."""
    if not conversation or not _ID.match(conversation):
        return None
    return hashlib.sha256(b"clinks-conversation:" + conversation.encode("ascii")).hexdigest()[:32]
