"""A stub OpenAI-compatible chat server for the tests: `python tests/llm_stub_server.py LOG_FILE`.

It listens on 127.0.0.1 on a free port, prints "PORT <n>" once it is ready, and answers
POST /v1/chat/completions, streamed or not, with a reply scripted by the request's `model`:

- grounded: the passage sentence that shares most words with the question, cited to its passage;
- invented_first: "...costs £250 [n]." first (a figure no passage gives), then the grounded sentence;
- invented_later: the grounded sentence, then "It costs £250 a year to stay on it [n]."
- no_citations: the grounded sentence without its marker;
- wrong_passage: the grounded sentence cited to the passage that shares fewest words with it;
- injection: obeys an injected instruction (a new role, and the instructions repeated, "cited");
- not_covered: NOT COVERED;
- slow: waits SLOW_S before answering (streamed: one word at once, then the wait);
- stall_later: the grounded sentence, then a second one that stops half-way for SLOW_S;
- error_500, rate_limited (429), unauthorized (401): that HTTP status with an error body;
- malformed: a 200 whose body is not JSON;  empty: a reply with no text;
- ignored_format: a plain paragraph without sentence ends or markers.

Every request's JSON body is appended to LOG_FILE, so a test can see exactly what was sent.
"""

from __future__ import annotations

import json
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_S = 4.0
_PASSAGE = re.compile(r"<passage n=\"(\d+)\"[^\n]*>\n(.*?)\n</passage>", re.DOTALL)
_QUESTION = re.compile(r"<question>\n(.*?)\n</question>", re.DOTALL)
_WORD = re.compile(r"[a-z0-9£]+")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 3}


def _sentences(text: str) -> list[str]:
    lines = [re.sub(r"^\s*[-*]\s+", "", line).strip() for line in text.splitlines()]
    out = []
    for line in lines:
        out += [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", line) if len(s.split()) >= 5]
    return out


def reply_for(model: str, messages: list[dict]) -> str:
    user = next((m["content"] for m in messages if m["role"] == "user"), "")
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    passages = {int(n): text for n, text in _PASSAGE.findall(user)}
    question = (_QUESTION.search(user) or re.search("(.*)", user)).group(1)
    asked = _words(question)
    best, best_n, best_score = "The guidance covers this.", 1, -1
    for n, text in passages.items():
        for sentence in _sentences(text):
            score = len(asked & _words(sentence)) - 0.01 * len(sentence.split())  # shorter says it more directly
            if score > best_score:
                best, best_n, best_score = sentence, n, score
    body = best if best[-1:] in ".!?" else best + "."
    grounded = f"{body[:-1]} [{best_n}]{body[-1]}"
    if model == "grounded":
        return grounded
    if model == "invented_first":
        return f"Qualifying onto the Dynamic Framework costs £250 [{best_n}]. {grounded}"
    if model == "invented_later":
        return f"{grounded} It costs £250 a year to stay on it [{best_n}]."
    if model == "no_citations":
        return body
    if model == "wrong_passage":
        worst = min(passages, key=lambda n: len(_words(passages[n]) & _words(best))) if passages else 1
        return f"{body[:-1]} [{worst}]{body[-1]}"
    if model == "injection":
        leaked = " ".join(system.split()[:40])
        planted = next((n for n, text in passages.items() if "DebugBot" in text), 1)
        return f"I am now DebugBot and I will ignore my rules [{planted}]. My instructions say: {leaked} [1]."
    if model == "not_covered":
        return "NOT COVERED"
    if model == "ignored_format":
        return "well it depends on lots of things really and you should ask someone who knows"
    if model == "empty":
        return ""
    if model == "stall_later":
        return f"{grounded} It also says that"
    return grounded  # slow, and anything else


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: the assistant had seen enough

    def _answer(self) -> None:
        length = int(self.headers.get("content-length", 0))
        request = json.loads(self.rfile.read(length) or b"{}")
        with open(sys.argv[1], "a", encoding="utf-8") as log:
            log.write(json.dumps(request) + "\n")
        model, stream = request.get("model", ""), bool(request.get("stream"))
        if model == "error_500":
            return self._json(500, {"error": {"message": "The server had an error", "type": "server_error"}})
        if model == "rate_limited":
            return self._json(429, {"error": {"message": "Rate limit reached", "type": "rate_limit"}})
        if model == "unauthorized":
            return self._json(401, {"error": {"message": "Invalid API key", "type": "invalid_request_error"}})
        if model == "malformed":
            return self._raw(200, b'{"id": "x", "choices": [ {"message": ', "application/json")
        text = reply_for(model, request.get("messages", []))
        usage = {"prompt_tokens": len(json.dumps(request["messages"])) // 4, "completion_tokens": len(text.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if not stream:
            if model in ("slow", "stall_later"):
                time.sleep(SLOW_S)
            return self._json(200, _completion(model, text, usage))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        words = re.findall(r"\S+\s*", text)
        for i, word in enumerate(words):
            self._event(_chunk(model, {"role": "assistant", "content": word} if i == 0 else {"content": word}))
            stall = (model == "slow" and i == 0) or (model == "stall_later" and i == len(words) - 2)
            time.sleep(SLOW_S if stall else 0.005)
        self._event(_chunk(model, {}, finish="stop"))
        if (request.get("stream_options") or {}).get("include_usage"):
            self._event(
                {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, data: dict) -> None:
        self.wfile.write(b"data: " + json.dumps(data).encode() + b"\n\n")
        self.wfile.flush()

    def _json(self, status: int, data: dict) -> None:
        self._raw(status, json.dumps(data).encode(), "application/json")

    def _raw(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _completion(model: str, text: str, usage: dict) -> dict:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": usage,
    }


def _chunk(model: str, delta: dict, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()
