"""Per-client rate limit, the cap on questions in flight and the body size limit, before any work."""

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from assistant.web.app import create_app


def app_with(service, peer="127.0.0.1", **limits):
    app = create_app(settings=service.settings.model_copy(update=limits), service=service)
    return TestClient(app, client=(peer, 50000))


def test_a_client_over_its_rate_gets_a_friendly_429_with_retry_after(hashing_service):
    c = app_with(hashing_service, rate_limit="3/minute")
    codes = [c.post("/api/ask", json={"question": "what is ROIF"}).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    r = c.post("/api/ask", json={"question": "what is ROIF"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert "Please wait" in r.json()["error"]["message"] and 1 <= int(r.headers["retry-after"]) <= 60
    assert r.headers["x-content-type-options"] == "nosniff"
    stream = c.post("/api/ask/stream", json={"question": "what is ROIF"})  # the stream counts as well
    assert stream.status_code == 429 and stream.json()["error"]["code"] == "rate_limited"
    # feedback counts too, but reading pages and the health check do not
    assert c.get("/healthz").status_code in (200, 503) and c.get("/embed.js").status_code == 200


def test_clients_behind_a_trusted_proxy_are_told_apart_by_its_header(hashing_service):
    c = app_with(hashing_service, rate_limit="2/minute", client_ip_header="X-Forwarded-For")
    ask = lambda ip: c.post("/api/ask", json={"question": "ROIF"}, headers={"X-Forwarded-For": f"1.2.3.4, {ip}"})  # noqa: E731
    assert [ask("10.0.0.1").status_code for _ in range(3)] == [200, 200, 429]
    assert ask("10.0.0.2").status_code == 200  # another client is not held back by the first
    # from an address that is not a trusted proxy, the header is ignored
    untrusted = app_with(hashing_service, "203.0.113.5", rate_limit="2/minute", client_ip_header="X-Forwarded-For")
    codes = [
        untrusted.post("/api/ask", json={"question": "ROIF"}, headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
        for i in range(3)
    ]
    assert codes == [200, 200, 429]


def test_beyond_the_questions_in_flight_a_fast_503(hashing_service):
    c = app_with(hashing_service, rate_limit="", max_in_flight=1, answer_threads=1)
    question = {"question": "Does it cost anything to qualify onto the Dynamic Framework and how long does it take?"}
    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(lambda _: c.post("/api/ask", json=question), range(24)))
    codes = [r.status_code for r in responses]
    assert 200 in codes and 503 in codes
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.json()["error"]["code"] == "busy" and busy.headers["retry-after"] == "2"


def test_a_body_over_the_limit_is_refused_even_without_a_length(hashing_service):
    c = app_with(hashing_service, rate_limit="", max_body_bytes=2048)

    def chunks():
        yield b'{"question": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    r = c.post("/api/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["message"] == "The request is too large: at most 2 KB."
