"""One call to the model that never keeps the person waiting past its time limit.

The client library's timeouts bound each wait for the network, not the whole answer (a server
that sends a word every few seconds never trips them), so the call runs in a worker thread and
the answer path waits on it only until the deadline; then it stops reading, and the quoted answer
is given instead. Every way a call can fail becomes one `ModelFault` with a short named kind
(`timeout`, `unreachable`, `rate_limited`, `http_500`, `malformed`, `empty`...), which is what the
log says: never the question, never the reply.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

WORKERS = 8  # calls in flight at once; more wait their turn (and fall back at their deadline)


class ModelFault(Exception):
    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


class ModelCaller:
    """Runs calls on a few worker threads; `reply` yields the reply's text as it arrives."""

    def __init__(self, model, workers: int = WORKERS) -> None:
        self.model = model
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm-call")

    def reply(self, messages: list, deadline: float, streaming: bool, usage: dict[str, int]) -> Iterator[str]:
        """Text pieces of the reply (one piece unless `streaming`), until the reply ends or the
        deadline (time.monotonic()) passes. Token counts, when the provider reports them, are
        added to `usage`. Raises ModelFault."""
        pieces: queue.Queue = queue.Queue()
        stop = threading.Event()

        def work() -> None:
            if stop.is_set():  # waited for a worker past its deadline: nobody is listening
                return
            try:
                if streaming:
                    for chunk in self.model.stream(messages):
                        pieces.put(("chunk", chunk))
                        if stop.is_set():
                            break
                else:
                    pieces.put(("chunk", self.model.invoke(messages)))
                pieces.put(("end", None))
            except BaseException as err:  # noqa: BLE001 - every failure goes back to the caller
                pieces.put(("error", err))

        self._pool.submit(work)
        received = False
        try:
            while True:
                remaining = deadline - time.monotonic()
                try:
                    if remaining <= 0:
                        raise queue.Empty
                    kind, value = pieces.get(timeout=remaining)
                except queue.Empty:
                    raise ModelFault("timeout", "no complete reply within the time limit") from None
                if kind == "end":
                    if not received:
                        raise ModelFault("empty", "the reply had no text")
                    return
                if kind == "error":
                    raise classify(value) from value
                _add_usage(usage, value)
                text = _text(value)
                if text:
                    received = True
                    yield text
        finally:
            stop.set()


def _text(message) -> str:
    content = getattr(message, "content", "")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks (Anthropic): the text ones
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return ""


def _add_usage(usage: dict[str, int], message) -> None:
    metadata = getattr(message, "usage_metadata", None) or {}
    for key in ("input_tokens", "output_tokens"):
        if metadata.get(key):
            usage[key] = usage.get(key, 0) + int(metadata[key])


def classify(err: BaseException) -> ModelFault:
    """A provider's exception as one named kind, without importing any provider's package."""
    name = type(err).__name__
    status = getattr(err, "status_code", None) or getattr(getattr(err, "response", None), "status_code", None)
    chain = _causes(err)
    if isinstance(err, ModelFault):
        return err
    if "Timeout" in name or any("Timeout" in type(c).__name__ for c in chain):
        return ModelFault("timeout", name)
    if status == 429 or "RateLimit" in name:
        return ModelFault("rate_limited", f"HTTP {status or 429}")
    if isinstance(status, int) and not 200 <= status < 300:
        return ModelFault(f"http_{status}", name)
    if "Connect" in name or isinstance(err, ConnectionError) or any(isinstance(c, ConnectionError) for c in chain):
        return ModelFault("unreachable", name)
    if isinstance(err, (json.JSONDecodeError, ValueError, KeyError, TypeError)) or "Validation" in name:
        return ModelFault("malformed", name)
    return ModelFault("error", name)


def _causes(err: BaseException) -> list[BaseException]:
    out, seen = [], set()
    current = err.__cause__ or err.__context__
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        out.append(current)
        current = current.__cause__ or current.__context__
    return out
