"""The web app's JSON routes, through a real FastAPI test client."""

import pytest
from fastapi.testclient import TestClient

from assistant.web import create_app


@pytest.fixture(scope="module")
def client(service):
    return TestClient(create_app(service=service))


def test_ask_returns_the_same_json_as_the_command_line(client):
    r = client.post("/api/ask", json={"question": "What is market warming?", "history": []})
    assert r.status_code == 200
    data = r.json()
    assert data["status"] == "answered" and "Market warming is the stage" in data["answer"]
    assert data["citations"][0]["url"].startswith("https://www.clinks.org/our-work/probation-services#:~:text=")


def test_follow_up_through_the_api(client):
    r = client.post("/api/ask", json={"question": "how often does it need renewing?",
                                      "history": [{"role": "user", "content": "what is IASME Gold?"},
                                                  {"role": "assistant", "content": "IASME Gold is..."}]})
    assert "every year" in r.json()["answer"]


@pytest.mark.parametrize("body", [{}, {"question": 5}, {"question": "x", "history": [{"role": "robot", "content": "x"}]},
                                  {"question": "x" * 20001}])
def test_malformed_requests_get_a_4xx_json_message(client, body):
    r = client.post("/api/ask", json=body)
    assert 400 <= r.status_code < 500 and "error" in r.json()


def test_not_json_at_all(client):
    r = client.post("/api/ask", content=b"<html>", headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500 and "error" in r.json()


def test_health_and_documents(client):
    assert client.get("/healthz").json() == {"ok": True, "index_loaded": True}
    assert client.get("/documents/probation-services.md").status_code == 200
    assert client.get("/documents/../pyproject.toml").status_code == 404
    assert client.get("/chat/").status_code == 200
