"""Every error, at any path, is JSON of one shape with a plain message and the security headers."""

import pytest
from fastapi.testclient import TestClient

from assistant.web.app import create_app


@pytest.fixture(scope="module")
def client(hashing_service):
    settings = hashing_service.settings.model_copy(update={"rate_limit": ""})
    return TestClient(create_app(settings=settings, service=hashing_service), raise_server_exceptions=False)


JSON = {"content-type": "application/json"}
CASES = [
    # (method, path, request kwargs, status, code, words the message must hold)
    ("get", "/nowhere", {}, 404, "not_found", "nothing at this address"),
    ("get", "/api/ask", {}, 405, "method_not_allowed", "does not accept GET"),
    ("put", "/api/feedback", {}, 405, "method_not_allowed", "use POST"),
    ("delete", "/healthz", {}, 405, "method_not_allowed", "DELETE"),
    ("post", "/api/ask", {"content": b"{not json", "headers": JSON}, 422, "invalid_request", "not valid JSON"),
    (
        "post",
        "/api/ask",
        {"content": b"\xff\xfe\x00", "headers": JSON},
        400,
        "bad_request",
        "could not be read as JSON",
    ),
    ("post", "/api/ask", {"content": b"", "headers": JSON}, 422, "invalid_request", "has no body"),
    ("post", "/api/ask", {"content": b"[1, 2]", "headers": JSON}, 422, "invalid_request", "must be a JSON object"),
    ("post", "/api/ask", {"content": b"[" * 100_000, "headers": JSON}, 400, "bad_request", "could not be read"),
    ("post", "/api/ask", {"json": {}}, 422, "invalid_request", "needs 'question'"),
    ("post", "/api/ask", {"json": {"question": 5}}, 422, "invalid_request", "'question' must be text"),
    (
        "post",
        "/api/ask",
        {"json": {"question": "x", "history": "x"}},
        422,
        "invalid_request",
        "'history' must be a list",
    ),
    (
        "post",
        "/api/ask",
        {"json": {"question": "x", "history": [{"role": "robot", "content": "x"}]}},
        422,
        "invalid_request",
        '\'history[0].role\' must be "user" or "assistant"',
    ),
    ("post", "/api/ask", {"json": {"question": "x" * 20001}}, 422, "invalid_request", "at most 20,000 characters"),
    (
        "post",
        "/api/ask",
        {"json": {"question": "x", "history": [{"role": "user", "content": "x"}] * 21}},
        422,
        "history_too_long",
        "send at most 20",
    ),
    (
        "post",
        "/api/ask",
        {"json": {"question": "x", "history": [{"role": "user", "content": "x" * 9000}]}},
        422,
        "history_too_long",
        "at most 8,000 characters",
    ),
    (
        "post",
        "/api/ask",
        {"json": {"question": "x", "history": [{"role": "user", "content": "x" * 7000}] * 6}},
        422,
        "history_too_long",
        "at most 40,000 characters in all",
    ),
    ("post", "/api/ask", {"content": b"x" * 300_000, "headers": JSON}, 413, "too_large", "at most 256 KB"),
    # the stream refuses what /api/ask refuses, as JSON, before it starts
    ("post", "/api/ask/stream", {"json": {"question": 5}}, 422, "invalid_request", "'question' must be text"),
    ("post", "/api/ask/stream", {"content": b"{not json", "headers": JSON}, 422, "invalid_request", "not valid JSON"),
    (
        "post",
        "/api/ask/stream",
        {"json": {"question": "x", "history": [{"role": "user", "content": "x" * 9000}]}},
        422,
        "history_too_long",
        "at most 8,000 characters",
    ),
    ("post", "/api/ask/stream", {"content": b"x" * 300_000, "headers": JSON}, 413, "too_large", "at most 256 KB"),
    ("get", "/api/ask/stream", {}, 405, "method_not_allowed", "use POST"),
    (
        "post",
        "/api/feedback",
        {"json": {"answer_id": "abcdef12", "helpful": "yes"}},
        422,
        "invalid_request",
        "true or false",
    ),
    ("get", "/documents/%00", {}, 404, "not_found", "no such document"),
    ("get", "/documents/" + "a" * 5000, {}, 404, "not_found", "no such document"),
    ("get", "/documents/.env", {}, 404, "not_found", "no such document"),
]


@pytest.mark.parametrize(
    "method,path,kwargs,status,code,words", CASES, ids=[f"{c[0]} {c[1][:30]} {c[4]}" for c in CASES]
)
def test_errors_have_one_shape_and_a_plain_message(client, method, path, kwargs, status, code, words):
    r = getattr(client, method)(path, **kwargs) if method != "delete" else client.delete(path)
    assert r.status_code == status
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    message = body["error"]["message"]
    assert words.lower() in message.lower(), message
    # No framework wording, no echo of the input
    for phrase in ("Field required", "error parsing the body", "Input should", "Traceback", "detail"):
        assert phrase not in r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'self'" in r.headers["content-security-policy"]


def test_the_apps_own_pages_and_answers_get_a_strict_policy(client):
    for r in (
        client.get("/embed.js"),
        client.get("/healthz"),
        client.post("/api/ask", json={"question": "what is ROIF"}),
    ):
        policy = r.headers["content-security-policy"]
        assert policy.startswith("default-src 'self';") and "frame-ancestors 'self'" in policy
    served = client.get("/documents/probation-services.md")
    assert served.status_code == 200 and served.headers["content-security-policy"].startswith("sandbox;")


def test_an_unexpected_failure_is_a_json_500_with_headers_and_no_traceback(hashing_service, monkeypatch):
    settings = hashing_service.settings.model_copy(update={"rate_limit": ""})
    c = TestClient(create_app(settings=settings, service=hashing_service), raise_server_exceptions=False)

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(hashing_service, "indexed_documents", broken)
    r = c.get("/documents/probation-services.md")
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    assert "secret internals" not in r.text and "Traceback" not in r.text
    assert r.headers["x-content-type-options"] == "nosniff" and "default-src" in r.headers["content-security-policy"]


def test_lone_surrogates_are_refused_as_invalid_json(client):
    # JSON allows "\ud800", but it is not text: refused with a plain message.
    body = b'{"question": "what is ROIF \\ud800", "history": [{"role": "user", "content": "\\udfff"}]}'
    r = client.post("/api/ask", content=body, headers=JSON)
    assert r.status_code == 422
    assert r.json()["error"]["message"] == (
        "'question' holds characters that are not valid text. 'history[0].content' holds characters that are not valid text."
    )
