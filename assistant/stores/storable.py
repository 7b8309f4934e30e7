"""Text as every database stores it: PostgreSQL's text type refuses the character U+0000, and no
database can store half of a UTF-16 surrogate pair (which JSON can carry: "\\ud800"). Both are
removed before anything is written, so that one such question never costs a batch of records."""

from __future__ import annotations

import re

_REFUSED = re.compile("[\x00\ud800-\udfff]")


def storable(text: str | None) -> str | None:
    if not text:
        return text
    return _REFUSED.sub("", text)
