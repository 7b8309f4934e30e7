"""Answer ids that can be checked: feedback is accepted only for answers this assistant gave.

An id is a random part and its HMAC under a key made when the server starts (or set by the
deployer, `ASSISTANT_ANSWER_ID_KEY`), so every worker process can check any id without a shared
list, and nothing about the question is kept. Ids from before a restart with a new key are
refused, as are made-up ones.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

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
