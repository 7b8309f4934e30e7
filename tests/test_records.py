"""What the web app notes after each answer: counts, declined questions kept redacted, and each
answer of the last hour (redacted, in the records database) for a later thumbs down, which may
reach another worker process or machine than the one that answered. On SQLite and PostgreSQL."""

import time

import sqlalchemy as sa

from assistant.answering.answer import Answer, Citation, Status
from assistant.stores.database import Database
from assistant.stores.records import LOOKUP_SECONDS, RECENT_SECONDS, Recorder
from tests.servers import App, assistant_env, run_cli

EMAIL_QUESTION = "Email me at jo.bloggs@example.org: what is a call-off?"


def answer(status=Status.ANSWERED, answer_id="a" * 48, text="A call-off is an order."):
    return Answer(text=text, status=status, answer_id=answer_id, citations=[Citation(1, "Guide", "Call-off", "u", "q")])


def recorder_for(db_url, keep_questions=True, **kwargs):
    return Recorder(Database(db_url), keep_questions, 90, **kwargs)


def test_declined_kept_redacted_and_thumbs_down_kept_with_its_reason(db_url):
    recorder = recorder_for(db_url)
    recorder.answered("Call me on 07700 900123 about choir funding", answer(Status.DECLINED_NOT_COVERED, "d" * 48))
    recorder.answered("My name is Sarah Jones: what is a call-off?", answer())
    recorder.flush()
    assert recorder.thumbs("a" * 48, True, None) is None  # a thumbs up stores nothing of the answer
    recent = recorder.thumbs("a" * 48, False, None)
    assert recent.text == "A call-off is an order." and recent.sources == ["Guide: Call-off"]
    recorder.flush()
    recorder.thumbs("a" * 48, False, "unclear")  # the reason, sent after the thumbs down
    recorder.thumbs("d" * 48, False, "not_answered")  # a declined answer's question is kept already
    recorder.flush()
    kept = {q.kind: q for q in recorder.kept.since(1)}
    assert kept["declined"].text == "Call me on [phone number] about choir funding"
    assert kept["declined"].reason == "not_answered"
    assert (
        kept["thumbs_down"].text == "My name is [name]: what is a call-off?" and kept["thumbs_down"].reason == "unclear"
    )
    assert len(recorder.kept.since(1)) == 2  # neither reason kept a question twice
    week = next(iter(recorder.counts.weekly().values()))
    assert week == {"answered": 1, "declined": 1}


def test_a_thumbs_down_reaching_another_process_keeps_the_question(db_url):
    """Two recorders on two engines, as two worker processes (or machines) are: the thumbs down
    reaches the second at once, before the first has surely written the answer."""
    answering, judging = recorder_for(db_url), recorder_for(db_url)
    answering.start()
    judging.start()
    answering.flush()
    answering.answered(EMAIL_QUESTION, answer())
    recent = judging.thumbs("a" * 48, False, "wrong")  # looks again until the other has written it
    assert recent is not None and recent.question.text == "Email me at [email]: what is a call-off?"
    assert recent.text == "A call-off is an order." and recent.sources == ["Guide: Call-off"]
    judging.flush()
    answering.thumbs("a" * 48, False, "unclear")  # its reason reaches the first: the same row
    answering.flush()
    kept = answering.kept.since(1)
    assert [(q.kind, q.text, q.redacted, q.reason) for q in kept] == [
        ("thumbs_down", "Email me at [email]: what is a call-off?", "email", "unclear")
    ]


def test_recent_answers_expire_after_the_hour(db_url):
    now = [time.time()]
    recorder = recorder_for(db_url, clock=lambda: now[0])
    recorder.answered(EMAIL_QUESTION, answer())
    recorder.flush()
    assert recorder.recent.count() == 1
    now[0] += RECENT_SECONDS
    started = time.monotonic()
    assert recorder.thumbs("a" * 48, False, "wrong") is None  # too late: nothing found, nothing kept
    assert time.monotonic() - started < LOOKUP_SECONDS + 1  # and the looking was bounded
    recorder.flush()
    assert recorder.kept.since(1) == []
    assert recorder.recent.purge() == 1 and recorder.recent.count() == 0


def test_nothing_kept_when_switched_off_but_counts_go_on(db_url):
    recorder = recorder_for(db_url, keep_questions=False)
    recorder.answered("jo@example.org: choir funding?", answer(Status.DECLINED_NOT_COVERED, "d" * 48))
    recorder.answered("what is a call-off?", answer())
    recorder.flush()
    recent = recorder.thumbs("a" * 48, False, "wrong")
    assert recent.question is None and recent.text == "A call-off is an order."  # the answer, for the console
    recorder.flush()
    assert recorder.kept.since(1) == []
    with recorder.kept.db.connect() as conn:
        rows = conn.execute(sa.select(recorder.kept.db.tables.recent_answers.c.question)).all()
    assert rows == [(None,), (None,)]
    assert next(iter(recorder.counts.weekly().values())) == {"answered": 1, "declined": 1}


def test_a_database_that_is_down_never_stops_answering(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the database folder should be")
    recorder = Recorder(Database(f"sqlite:///{blocked / 'r.sqlite3'}"), True, 90)
    recorder.answered("choir funding?", answer(Status.DECLINED_NOT_COVERED))  # does not raise
    recorder.flush(timeout=5)
    started = time.monotonic()
    assert recorder.thumbs("a" * 48, False, None) is None  # does not raise either, nor wait long
    assert time.monotonic() - started < LOOKUP_SECONDS + 1


def test_two_servers_sharing_a_database_keep_a_question_answered_by_the_other(tmp_path, db_url):
    """Two `assistant serve` processes on one data folder (one answer-id key) and one database (the
    folder's SQLite file, or PostgreSQL), as two machines sharing a database: one answers, the thumbs
    down goes to the other, and the console of the first shows the question, redacted, and the
    answer marked unhelpful."""
    settings = {"embedder": "hashing", "rate_limit": "", "admin_password": "a console passphrase"}
    if db_url.startswith("postgresql"):
        settings["database_url"] = db_url
    else:
        db_url = f"sqlite:///{tmp_path / 'data' / 'feedback.sqlite3'}"  # the default: in the data folder
    env = assistant_env(tmp_path / "data", **settings)
    assert run_cli(env, "ingest").returncode == 0
    servers = [App(env, log=tmp_path / f"app{i}.log") for i in (1, 2)]
    try:
        first, second = (s.wait_ready() for s in servers)
        given = first.ask(EMAIL_QUESTION).json()
        assert given["status"] == "answered"
        down = second.http.post("/api/feedback", json={"answer_id": given["answer_id"], "helpful": False})
        assert down.json() == {"ok": True}
        reason = {"answer_id": given["answer_id"], "helpful": False, "reason": "unclear"}
        assert second.http.post("/api/feedback", json=reason).json() == {"ok": True}

        auth = ("admin", "a console passphrase")
        deadline, questions = time.time() + 20, []
        while time.time() < deadline and not questions:  # the second writes it on its records thread
            report = first.http.get("/api/admin/unanswered?days=1", auth=auth).json()
            questions = [q for t in report["topics"] for q in t["questions"]]
            time.sleep(0.2)
        assert questions == ["Email me at [email]: what is a call-off?"]
        assert report["topics"][0]["thumbs_down"] == 1
        unhelpful = first.http.get("/api/admin/feedback?days=1", auth=auth).json()["unhelpful_answers"]
        assert [u["thumbs_down"] for u in unhelpful] == [1] and unhelpful[0]["answer"] == given["answer"]
        for server in servers:
            assert "Traceback" not in server.log()
    finally:
        for server in servers:
            server.stop()
    with Database(db_url).connect() as conn:
        text = repr(conn.execute(sa.text("SELECT * FROM recent_answers")).all())
        text += repr(conn.execute(sa.text("SELECT * FROM kept_questions")).all())
    assert "jo.bloggs" not in text and "[email]" in text
