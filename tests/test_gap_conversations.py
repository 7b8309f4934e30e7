"""The console's gaps count how many different conversations asked, beside the questions: one
person asking the same thing again and again is one conversation, and ranks below a topic many
people asked once. Only a digest of the chat's random conversation id is stored."""

import secrets

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.test_console import ADMIN, PASSWORD, make_app

FLOOD = "what songs should our prison choir sing at the summer concert?"
MANY = "which paint is best for a community mural on the prison wall?"


def test_a_topic_asked_in_many_conversations_outranks_one_asked_many_times_in_one(service, tmp_path):
    app, svc = make_app(service, tmp_path, admin_password=PASSWORD)
    with TestClient(app, base_url="https://testserver") as client:
        one = secrets.token_hex(16)
        for _ in range(12):  # one person, the same question, twelve times in one conversation
            assert client.post("/api/ask", json={"question": FLOOD, "conversation": one}).json()["declined"]
        for _ in range(3):  # three people, once each (the chat page's stream, as the widget asks)
            streamed = client.post("/api/ask/stream", json={"question": MANY, "conversation": secrets.token_hex(16)})
            assert "declined_" in streamed.text
        assert client.post("/api/ask", json={"question": MANY}).json()["declined"]  # a script: no id
        refused = client.post("/api/ask", json={"question": MANY, "conversation": "not an id"})
        assert refused.status_code == 422

        topics = client.get("/api/admin/unanswered?days=7", auth=ADMIN).json()["topics"]
        by_label = {t["label"]: t for t in topics}
        assert (by_label[MANY]["conversations"], by_label[MANY]["count"]) == (4, 4)
        assert (by_label[FLOOD]["conversations"], by_label[FLOOD]["count"]) == (1, 12)
        assert [t["label"] for t in topics][:2] == [MANY, FLOOD]
        csv_text = client.get("/api/admin/unanswered.csv?days=7", auth=ADMIN).text
        assert f"{MANY},4,4," in csv_text and f"{FLOOD},1,12," in csv_text

        with app.state.recorder.kept.db.connect() as conn:
            stored = {r[0] for r in conn.execute(sa.text("SELECT conversation FROM kept_questions"))}
        assert one not in stored and len(stored - {None}) == 4  # digests only, never the id itself
