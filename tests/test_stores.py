"""The records database on SQLite and on a real PostgreSQL server: feedback, kept questions,
recent answers, weekly counts, the audit log; migrations that keep every old row."""

import sqlite3
import threading
import time

import numpy as np
import pytest
import sqlalchemy as sa

from assistant.stores.audit import AuditLog
from assistant.stores.counts import AnswerCounts, week_of
from assistant.stores.database import Database
from assistant.stores.feedback import FeedbackStore
from assistant.stores.kept import DAY, KeptQuestions
from assistant.stores.recent import PURGE_SECONDS, RECENT_SECONDS, RecentAnswer, RecentAnswers
from assistant.stores.redact import redact


def test_feedback_and_its_reason_are_one_row(db_url):
    store = FeedbackStore(Database(db_url))
    assert store.writable() == (True, "ok")
    assert store.record("a" * 48, True)
    assert store.record("b" * 48, False, answer_text="Call-off means...", sources=["Guide: Call-off"])
    assert not store.record("b" * 48, False, reason="wrong")  # completes the thumbs down above
    assert store.all() == [("a" * 48, True), ("b" * 48, False)]
    assert store.reasons() == [("b" * 48, "wrong")]
    down = [v for v in store.since(7) if not v.helpful]
    assert down[0].answer_text == "Call-off means..." and down[0].sources == ["Guide: Call-off"]
    with pytest.raises(ValueError):
        store.record("c" * 48, False, reason="typed by someone")


def test_kept_questions_are_redacted_and_expire(db_url):
    db = Database(db_url)
    kept = KeptQuestions(db, keep_days=90)
    with pytest.raises(TypeError):
        kept.add("jo@example.org asked this", "declined", "declined_not_covered")  # a plain string is refused
    now = time.time()
    kept.add(redact("Email me at jo@example.org about grants"), "declined", "declined_not_covered", vector=[0.5, 0.5])
    kept.add(redact("an old question"), "declined", "declined_not_covered", at=now - 91 * DAY)
    FeedbackStore(db).record("d" * 48, False, answer_text="old answer")
    with db.begin() as conn:  # that thumbs down was given 100 days ago
        conn.execute(sa.update(db.tables.feedback).values(created_at=now - 100 * DAY))
    rows = kept.since(365)
    assert [r.text for r in rows] == ["Email me at [email] about grants", "an old question"]
    assert rows[0].redacted == "email" and np.allclose(rows[0].vector, [0.5, 0.5])
    assert kept.purge() == 1
    assert [r.text for r in kept.since(365)] == ["Email me at [email] about grants"]
    verdict = FeedbackStore(db).since(365)[0]
    assert verdict.answer_text is None and verdict.helpful is False  # the text goes, the verdict stays


def test_recent_answers_are_redacted_and_gone_within_the_hour(db_url):
    now = [1_800_000_000.0]
    recent = RecentAnswers(Database(db_url), clock=lambda: now[0])
    with pytest.raises(TypeError):  # a plain string is refused
        recent.put("r" * 48, RecentAnswer(now[0], "answered", "jo@example.org asked", "t", []))
    question = redact("I am jo@example.org: what is a call-off?")
    recent.put("a" * 48, RecentAnswer(now[0], "answered", question, "A call-off is an order.", ["Guide: Call-off"]))
    recent.put("n" * 48, RecentAnswer(now[0], "answered", None, "No question kept.", []))  # keep_questions=false
    found = recent.get("a" * 48)
    assert found.question == question and found.question.text == "I am [email]: what is a call-off?"
    assert found.text == "A call-off is an order." and found.sources == ["Guide: Call-off"]
    assert found.status == "answered" and found.kept_id is None
    assert recent.get("n" * 48).question is None and recent.get("x" * 48) is None
    with Database(db_url).connect() as conn:  # nothing personal reached the table
        assert "jo@example.org" not in repr(conn.execute(sa.select(Database(db_url).tables.recent_answers)).all())

    now[0] += RECENT_SECONDS - PURGE_SECONDS - 1
    assert recent.purge() == 0 and recent.get("a" * 48) is not None
    now[0] += 1  # the last purge before the hour is up takes it
    assert recent.purge() == 2 and recent.count() == 0
    recent.put("b" * 48, RecentAnswer(now[0], "answered", question, "t", []))
    now[0] += RECENT_SECONDS
    assert recent.get("b" * 48) is None  # an hour old: never read, even before a purge


def test_a_question_is_kept_once_whichever_process_asks_first(db_url):
    """Two processes keep the same answer's question at the same moment: one row, and the other
    learns its id (to add a reason to it)."""
    first, second = RecentAnswers(Database(db_url)), RecentAnswers(Database(db_url))
    first.put("a" * 48, RecentAnswer(time.time(), "answered", redact("what is a call-off?"), "t", []))
    kept = KeptQuestions(Database(db_url), keep_days=90)
    results, start = [], threading.Barrier(4)

    def keep(recent):
        start.wait()
        results.append(
            recent.keep_once("a" * 48, lambda conn: kept.add(redact("q"), "thumbs_down", "answered", conn=conn))
        )

    threads = [threading.Thread(target=keep, args=(r,)) for r in (first, second, first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [r for r in results if r is not None]
    assert len(results) == 4 and len(winners) == 1 and kept.count() == 1
    assert second.get("a" * 48).kept_id == winners[0] == kept.since(1)[0].id


def test_weekly_counts_add_up_across_processes(db_url):
    first, second = AnswerCounts(Database(db_url)), AnswerCounts(Database(db_url))
    week = week_of(time.time())
    first.add({(week, "answered"): 3, (week, "declined"): 1})
    second.add({(week, "answered"): 2})
    assert first.weekly() == {week: {"answered": 5, "declined": 1}}
    assert week_of(0) == "1969-12-29"  # the Monday of the week 1 January 1970 fell in


def test_audit_log_keeps_who_what_when(db_url):
    audit = AuditLog(Database(db_url), keep_days=1)
    audit.write("console 127.0.0.1", "upload", "new-guide.md (2 KB)")
    entry = audit.recent()[0]
    assert (entry.who, entry.action, entry.detail) == ("console 127.0.0.1", "upload", "new-guide.md (2 KB)")
    assert audit.purge(now=time.time() + 2 * DAY) == 1 and audit.recent() == []


def test_migrations_build_exactly_the_tables_the_code_uses(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    db = Database(db_url)
    db.migrate()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.tables.metadata)
    assert diff == []


def test_several_processes_migrating_at_once_is_safe(db_url):
    errors = []

    def open_one():
        try:
            Database(db_url).migrate()
        except Exception as err:  # noqa: BLE001 - the test reports any failure
            errors.append(err)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and Database(db_url).revision() == newest_revision()


def newest_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from assistant.stores.database import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


@pytest.mark.parametrize("with_reason", [False, True])
def test_an_old_feedback_file_keeps_every_row(tmp_path, with_reason):
    """The store as issue 9 (with reasons) and before it (without) left it: plain sqlite3, no id."""
    path = tmp_path / "feedback.sqlite3"
    conn = sqlite3.connect(path)
    columns = "answer_id TEXT NOT NULL, helpful INTEGER NOT NULL, created_at REAL NOT NULL"
    conn.execute(f"CREATE TABLE feedback ({columns}{', reason TEXT' if with_reason else ''})")
    rows = [(f"{i:048x}", i % 3 != 0, 1_700_000_000.0 + i) for i in range(200)]
    if with_reason:
        rows = [(*r, "wrong" if not r[1] else None) for r in rows]
    conn.executemany(f"INSERT INTO feedback VALUES ({', '.join('?' * len(rows[0]))})", rows)
    conn.commit()
    conn.close()

    store = FeedbackStore(Database(f"sqlite:///{path}"))
    assert store.all() == [(r[0], r[1]) for r in rows]
    if with_reason:
        assert len(store.reasons()) == sum(1 for r in rows if not r[1])
        assert {reason for _, reason in store.reasons()} == {"wrong"}
    assert store.record("e" * 48, False)  # and it takes new ones
    assert len(store.all()) == 201
