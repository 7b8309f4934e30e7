"""The web app's JSON routes, through a real FastAPI test client."""

import pytest
from fastapi.testclient import TestClient

from assistant.web.app import create_app


@pytest.fixture(scope="module")
def client(service):
    # No rate limit here: these tests ask quickly, one after another (tests/test_guard.py checks it).
    settings = service.settings.model_copy(update={"rate_limit": ""})
    return TestClient(create_app(settings=settings, service=service))


def test_ask_returns_the_same_json_as_the_command_line(client):
    r = client.post("/api/ask", json={"question": "What is market warming?", "history": []})
    assert r.status_code == 200
    data = r.json()
    assert data["status"] == "answered" and "Market warming is the stage" in data["answer"]
    assert data["citations"][0]["url"].startswith("https://www.clinks.org/our-work/probation-services#:~:text=")


def test_follow_up_through_the_api(client):
    r = client.post(
        "/api/ask",
        json={
            "question": "how often does it need renewing?",
            "history": [
                {"role": "user", "content": "what is IASME Gold?"},
                {"role": "assistant", "content": "IASME Gold is..."},
            ],
        },
    )
    assert "every year" in r.json()["answer"]


@pytest.mark.parametrize(
    "body",
    [{}, {"question": 5}, {"question": "x", "history": [{"role": "robot", "content": "x"}]}, {"question": "x" * 20001}],
)
def test_malformed_requests_get_a_4xx_json_message(client, body):
    r = client.post("/api/ask", json=body)
    assert 400 <= r.status_code < 500 and set(r.json()["error"]) == {"code", "message"}


def test_not_json_at_all(client):
    r = client.post("/api/ask", content=b"<html>", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith("The request body is not valid JSON.")


def test_health_and_documents(client, service):
    health = client.get("/healthz").json()
    # The deployer sees which embedder answers (the semantic model, or the hashing fallback) and each part.
    assert health["ok"] is True and health["status"] == "ok" and health["embedder"] == service.embedder.name
    assert {name: part["ok"] for name, part in health["parts"].items()} == {
        "index": True,
        "vector_store": True,
        "reader": True,  # the trained reader answers, verified
        "feedback_store": True,
        "question_records": True,
    }
    assert health["parts"]["index"]["documents"] == 1 and health["parts"]["index"]["version"]
    assert client.get("/documents/probation-services.md").status_code == 200
    assert client.get("/documents/../pyproject.toml").status_code == 404
    assert client.get("/").status_code == 200


def test_burst_of_requests_all_get_answers(client):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(lambda i: client.post("/api/ask", json={"question": f"what is ROIF {i}"}).status_code, range(30))
        )
    assert codes == [200] * 30


def test_embedding_headers_and_feedback_api(service, tmp_path):
    from assistant.settings import Settings

    settings = Settings(
        **{
            **service.settings.model_dump(),
            "allowed_origins": ["https://www.clinks.org"],
            "data_dir": tmp_path,
            "rate_limit": "",
        }
    )
    from assistant.service import Service

    svc = Service(settings)
    svc.ingest()
    c = TestClient(create_app(service=svc))
    r = c.get("/")
    assert "frame-ancestors 'self' https://www.clinks.org" in r.headers["content-security-policy"]
    pre = c.options("/api/ask", headers={"Origin": "https://www.clinks.org", "Access-Control-Request-Method": "POST"})
    assert pre.headers["access-control-allow-origin"] == "https://www.clinks.org"
    other = c.options("/api/ask", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in other.headers
    script = c.get("/embed.js")
    assert script.headers["content-type"].startswith("text/javascript")
    # the launcher says what the deployer's file calls the assistant
    assert '"title": "Ask about probation commissioning"' in script.text and "__ASSISTANT_CONFIG__" not in script.text
    answer_id = c.post("/api/ask", json={"question": "what is ROIF"}).json()["answer_id"]
    assert c.post("/api/feedback", json={"answer_id": answer_id, "helpful": False}).json() == {"ok": True}
    assert c.post("/api/feedback", json={"answer_id": "nope", "helpful": 1}).status_code == 422
    # only ids this assistant gave, and only true or false
    forged = c.post("/api/feedback", json={"answer_id": "0" * 48, "helpful": True})
    assert forged.status_code == 422 and forged.json()["error"]["code"] == "unknown_answer"
    assert c.post("/api/feedback", json={"answer_id": answer_id, "helpful": "yes"}).status_code == 422
    assert c.post("/api/feedback", json={"answer_id": answer_id, "helpful": 1}).status_code == 422
    # after a thumbs down, one reason from a fixed list completes that row: never free text
    assert (
        c.post("/api/feedback", json={"answer_id": answer_id, "helpful": False, "reason": "wrong"}).status_code == 200
    )
    assert (
        c.post("/api/feedback", json={"answer_id": answer_id, "helpful": False, "reason": "my words"}).status_code
        == 422
    )
    from assistant.stores.database import Database
    from assistant.stores.feedback import FeedbackStore

    store = FeedbackStore(Database(f"sqlite:///{tmp_path / 'feedback.sqlite3'}"))
    assert store.all() == [(answer_id, False)] and store.reasons() == [(answer_id, "wrong")]


def test_feedback_that_cannot_be_saved_is_a_clear_503_and_answers_go_on(hashing_service, tmp_path):
    from assistant.service import Service

    settings = hashing_service.settings.model_copy(update={"data_dir": tmp_path, "rate_limit": ""})
    svc = Service(settings)
    svc.ingest()
    (tmp_path / "feedback.sqlite3").mkdir()  # not a file SQLite can write
    c = TestClient(create_app(service=svc), raise_server_exceptions=False)
    answer = c.post("/api/ask", json={"question": "what is ROIF"}).json()
    r = c.post("/api/feedback", json={"answer_id": answer["answer_id"], "helpful": True})
    assert r.status_code == 503 and r.json()["error"]["code"] == "feedback_unavailable"
    assert "Traceback" not in r.text and "sqlite" not in r.text.lower()
    health = c.get("/healthz")
    assert health.status_code == 200 and health.json()["parts"]["feedback_store"]["ok"] is False


def test_answer_ids_outlive_a_restart_and_are_shared_by_workers(hashing_service, tmp_path):
    """The key that signs answer ids is kept in the data folder: a restarted server (or another
    worker) accepts feedback on an answer given before."""
    from assistant.service import Service

    settings = hashing_service.settings.model_copy(update={"data_dir": tmp_path, "rate_limit": ""})
    first = Service(settings)
    first.ingest()
    answer_id = first.ask("what is ROIF").answer_id
    again = Service(settings)  # a restart, or a second worker
    c = TestClient(create_app(service=again))
    assert c.post("/api/feedback", json={"answer_id": answer_id, "helpful": True}).json() == {"ok": True}
    assert (tmp_path / "answer-id.key").stat().st_mode & 0o077 == 0  # readable by its owner only
