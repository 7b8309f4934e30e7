"""Text every database stores: a question with U+0000 in it (or half a UTF-16 pair, which JSON can
carry; the API refuses that already) is recorded on PostgreSQL, with those characters removed,
and costs no other record."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_settings

PASSWORD = "a long console passphrase"
ADMIN = ("admin", PASSWORD)


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_a_question_with_nul_and_lone_surrogates_is_recorded(tmp_path, request, store):
    from assistant.service import Service
    from assistant.web.app import create_app

    overrides = {"admin_password": PASSWORD, "rate_limit": ""}
    if store == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_cluster").new_database(f"nul_{store}_{id(tmp_path)}")
    settings = make_settings(tmp_path, **overrides)
    service = Service(settings)
    service.ingest()
    with TestClient(create_app(settings, service)) as client:
        asked = [
            "what songs should our prison\x00 choir sing?",
            "what paint is best for a community\x00\x00 mural?",
            "which football team should our prison team support?",
        ]
        for question in asked:
            r = client.post("/api/ask", json={"question": question})  # sent as \u0000 in the JSON
            assert r.status_code == 200, r.text
            if not r.json()["declined"]:  # an answer's question is kept after a thumbs down
                client.app.state.recorder.flush()
                verdict = {"answer_id": r.json()["answer_id"], "helpful": False}
                assert client.post("/api/feedback", json=verdict).status_code == 200
        client.app.state.recorder.flush()
        report = client.get("/api/admin/unanswered?days=7", auth=ADMIN).json()
        kept = {q for topic in report["topics"] for q in topic["questions"]}
        assert "what songs should our prison choir sing?" in kept, kept
        assert "what paint is best for a community mural?" in kept, kept
        assert "which football team should our prison team support?" in kept, kept
        assert client.get("/healthz").json()["parts"]["question_records"]["ok"] is True
