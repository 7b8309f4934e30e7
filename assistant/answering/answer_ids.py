"""Answer ids that can be checked: feedback is accepted only for answers this assistant gave.

An id is a random part and its HMAC under a key, so every worker process can check any id without
a shared list, and nothing about the question is kept. The key is the deployer's
(`ASSISTANT_ANSWER_ID_KEY`), else one made once and kept in the data folder (`answer-id.key`), so
ids outlive a restart; in a read-only data folder without one, a new key at each start (ids from
before a restart are then refused, as made-up ones always are).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_FILE = "answer-id.key"

RANDOM_HEX = 24
SIGNATURE_HEX = 24


class AnswerIds:
    def __init__(self, key: str | None = None) -> None:
        self.key = (key or secrets.token_hex(32)).encode()

    def new(self) -> str:
        nonce = secrets.token_hex(RANDOM_HEX // 2)
        return nonce + self._sign(nonce)

    def issued(self, answer_id: str) -> bool:
        if len(answer_id) != RANDOM_HEX + SIGNATURE_HEX:
            return False
        nonce, signature = answer_id[:RANDOM_HEX], answer_id[RANDOM_HEX:]
        return hmac.compare_digest(self._sign(nonce), signature)

    def _sign(self, nonce: str) -> str:
        return hmac.new(self.key, nonce.encode(), hashlib.sha256).hexdigest()[:SIGNATURE_HEX]


def load_key(configured: str | None, data_dir: Path) -> str:
    """The configured key, else the one kept in the data folder (made there the first time)."""
    if configured:
        return configured
    path = data_dir / KEY_FILE
    try:
        kept = path.read_text(encoding="utf-8").strip()
        if kept:
            return kept
    except OSError:
        pass
    key = secrets.token_hex(32)
    tmp = data_dir / f".{KEY_FILE}.{os.getpid()}.tmp"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(key)
        os.link(tmp, path)  # atomic, and refused if another process made one first
    except FileExistsError:
        key = path.read_text(encoding="utf-8").strip() or key
    except OSError:
        pass  # a read-only data folder: this start's own key
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass
    return key
