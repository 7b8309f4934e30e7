"""What the web app notes after each answer: counts, declined questions kept redacted, and the
in-memory, time-limited link from an answer id to its question for a later thumbs down."""

import time

from assistant.answer import Answer, Citation, Status
from assistant.records import RecentAnswer, RecentAnswers, Recorder
from assistant.stores.database import Database


def answer(status=Status.ANSWERED, answer_id="a" * 48, text="A call-off is an order."):
    return Answer(text=text, status=status, answer_id=answer_id, citations=[Citation(1, "Guide", "Call-off", "u", "q")])


def test_recent_answers_are_bounded_in_time_and_number():
    recent = RecentAnswers(seconds=60, size=3)
    for i in range(5):
        recent.put(str(i), RecentAnswer(time.time(), "answered", None, "t", []))
    assert len(recent) == 3 and recent.get("0") is None and recent.get("4") is not None
    recent.put("old", RecentAnswer(time.time() - 61, "answered", None, "t", []))
    assert recent.get("old") is None


def test_declined_kept_redacted_and_thumbs_down_kept_with_its_reason(tmp_path):
    recorder = Recorder(
        Database(f"sqlite:///{tmp_path / 'r.sqlite3'}"),
        True,
        90,
        embed=lambda t: [1.0, 0.0],
        embedder_name=lambda: "test",
    )
    recorder.answered("Call me on 07700 900123 about choir funding", answer(Status.DECLINED_NOT_COVERED, "d" * 48))
    recorder.answered("My name is Sarah Jones: what is a call-off?", answer())
    recorder.flush()
    recent = recorder.thumbs("a" * 48, False, None)
    assert recent.text == "A call-off is an order." and recent.sources == ["Guide: Call-off"]
    recorder.flush()
    recorder.thumbs("a" * 48, False, "unclear")  # the reason, sent after the thumbs down
    recorder.flush()
    kept = {q.kind: q for q in recorder.kept.since(1)}
    assert kept["declined"].text == "Call me on [phone number] about choir funding"
    assert (
        kept["thumbs_down"].text == "My name is [name]: what is a call-off?" and kept["thumbs_down"].reason == "unclear"
    )
    assert len(recorder.kept.since(1)) == 2  # the reason did not keep it twice
    week = next(iter(recorder.counts.weekly().values()))
    assert week == {"answered": 1, "declined": 1}


def test_nothing_kept_when_switched_off_but_counts_go_on(tmp_path):
    recorder = Recorder(Database(f"sqlite:///{tmp_path / 'r.sqlite3'}"), False, 90)
    recorder.answered("jo@example.org: choir funding?", answer(Status.DECLINED_NOT_COVERED, "d" * 48))
    recorder.answered("what is a call-off?", answer())
    recorder.flush()
    assert recorder.thumbs("a" * 48, False, "wrong").question is None
    recorder.flush()
    assert recorder.kept.since(1) == []
    assert next(iter(recorder.counts.weekly().values())) == {"answered": 1, "declined": 1}


def test_a_database_that_is_down_never_stops_answering(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the database folder should be")
    recorder = Recorder(Database(f"sqlite:///{blocked / 'r.sqlite3'}"), True, 90)
    recorder.answered("choir funding?", answer(Status.DECLINED_NOT_COVERED))  # does not raise
    recorder.flush(timeout=5)
