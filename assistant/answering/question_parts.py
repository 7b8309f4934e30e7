"""Questions that ask two things: "what is the ROIF and how much is in it", "basic vs plus".

Each part gets its own vector, so the answer can quote the best sentence for each part, not only
sentences that happen to match the whole question. The rules are declared here, not learned:
a new part starts where a question word follows "and", a comma, a semicolon or a question mark;
"difference between X and Y" and "X vs Y" ask about X and about Y.
"""

from __future__ import annotations

import re

_QUESTION_WORD = (
    r"(?:what|whats|what's|how|when|who|whos|who's|which|where|why|is|are|do|does|did|can|could|should|will|would)"
)
_SPLIT = re.compile(
    rf"(?:\?|[,;]|\b(?:and|also|plus)\b)\s*(?:(?:and|also|but)\s+)?(?={_QUESTION_WORD}\b)", re.IGNORECASE
)
_DIFFERENCE = re.compile(r"\bdifferen\w*\s+between\s+(.+?)\s+and\s+(.+?)\s*\??$", re.IGNORECASE)
_VERSUS = re.compile(r"^(.+?)\s+(?:vs\.?|versus)\s+(.+?)(?:[,?].*)?$", re.IGNORECASE)
_POINTS_BACK = re.compile(r"\b(it|its|they|them|their|this|that|these|those|one)\b", re.IGNORECASE)
MIN_WORDS = 2
MAX_PARTS = 3


def split_parts(question: str) -> list[str]:
    """The parts of a question that asks more than one thing; [] when it asks one."""
    text = " ".join(question.split())
    for pattern in (_DIFFERENCE, _VERSUS):
        match = pattern.search(text)
        if match:
            left, right = match.group(1).strip(" ,?").split(), match.group(2).strip(" ,?").split()
            if len(right) == 1 < len(left):  # "basic vs plus": "cyber essentials basic", "cyber essentials plus"
                right = left[: len(left) - len(right)] + right
            # Each side is asked about as such: what the guidance says X is, and what Y is.
            return [f"what is {' '.join(left)}", f"what is {' '.join(right)}"]
    parts = [p.strip(" ,;?") for p in _SPLIT.split(text)]
    parts = [p for p in parts if len(p.split()) >= MIN_WORDS][:MAX_PARTS]
    if len(parts) < 2:
        return []
    # "...and how much is in it": a later part that points back carries the first part with it.
    return [parts[0]] + [f"{p} ({parts[0]})" if _POINTS_BACK.search(p) else p for p in parts[1:]]
