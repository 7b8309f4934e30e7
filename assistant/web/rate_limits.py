"""Each client's rate (ASSISTANT_RATE_LIMIT), counted where every worker and machine sees it.

With ASSISTANT_RATE_LIMIT_STORAGE set (a `limits` storage URI, e.g. redis://127.0.0.1:6379), every
process on every machine counts in that one store, so `--workers N` or a second machine does not
multiply a client's rate; unset, each process counts in its own memory (the `limits` library's
moving window either way). A hit is atomic in the store: two workers cannot both let through the
last question of a window.

The shared store is asked from a thread (the event loop never waits on the network) within a short
time. If it cannot be reached, questions are answered without a rate limit (fail open): answering
matters more than counting. One warning goes to the log when it is lost and one when it is back;
while it is down it is tried again every few seconds, not on every request.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from urllib.parse import urlsplit

from limits import parse_many
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

STORE_SECONDS = 1.0  # a question waits at most this long for the shared store, then goes on uncounted
RETRY_SECONDS = 5.0  # after a failure, the store is left alone this long


def _storage(uri: str):
    scheme = urlsplit(uri).scheme
    options = {}
    if scheme.startswith(("redis", "rediss", "valkey")):
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # Fail fast: no retries with back-off inside the client (its default waits seconds).
        options = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5, "retry": Retry(NoBackoff(), 0)}
    try:
        return storage_from_string(uri, **options)
    except Exception as err:
        raise ValueError(
            f"ASSISTANT_RATE_LIMIT_STORAGE is not a storage the rate limits can use ({err}); "
            "use e.g. redis://127.0.0.1:6379, or leave it unset to count in each process's memory."
        ) from None


class RateLimits:
    def __init__(self, rate_limit: str, storage_uri: str | None = None) -> None:
        self.rates = parse_many(rate_limit) if rate_limit else []
        self.shared = bool(storage_uri)
        parts = urlsplit(storage_uri or "")
        port = f":{parts.port}" if parts.port else ""
        self.where = f"{parts.scheme}://{parts.hostname or ''}{port}"  # for the log: never a password in it
        storage = _storage(storage_uri) if storage_uri and self.rates else MemoryStorage()
        self.limiter = MovingWindowRateLimiter(storage)
        self.down_until = 0.0
        self.down = False

    @property
    def active(self) -> bool:
        return bool(self.rates)

    async def acquire(self, key: str) -> int | None:
        """Count one question for `key`: None if it may be answered, else the seconds to wait."""
        if not self.shared:
            return self._acquire(key)
        if time.monotonic() < self.down_until:
            return None
        try:
            wait = await asyncio.wait_for(asyncio.to_thread(self._acquire, key), STORE_SECONDS)
        except Exception as err:  # unreachable, too slow, or refusing: answer anyway
            self.down_until = time.monotonic() + RETRY_SECONDS
            if not self.down:
                self.down = True
                log.warning(
                    "The shared rate-limit store (%s) cannot be reached (%s): questions are answered without "
                    "a rate limit until it is back.",
                    self.where,
                    type(err).__name__,
                )
            return None
        if self.down:
            self.down = False
            log.warning("The shared rate-limit store (%s) is back: rate limits apply again.", self.where)
        return wait

    def _acquire(self, key: str) -> int | None:
        for rate in self.rates:
            if not self.limiter.hit(rate, key):  # atomic: counted only if within the rate
                reset = self.limiter.get_window_stats(rate, key).reset_time
                return max(1, math.ceil(reset - time.time()))
        return None
