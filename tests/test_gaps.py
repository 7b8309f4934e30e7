"""Kept questions grouped by meaning with the real model: paraphrases of one need form one topic,
labelled with its most typical question; the weekly figures; the CSV."""

import csv
import io
import time

from assistant.console import gaps
from assistant.stores.counts import AnswerCounts, week_of
from assistant.stores.database import Database
from assistant.stores.feedback import FeedbackStore
from assistant.stores.kept import DAY, KeptQuestions
from assistant.stores.redact import redact

QUESTIONS = {
    "housing": [
        "How do I find housing for someone leaving prison?",
        "where can a prison leaver find accommodation",
        "housing support after release from prison",
    ],
    "dbs": [
        "what are the rules on volunteer DBS checks",
        "do our volunteers need a DBS check",
        "DBS checks for mentors",
    ],
    "tags": ["how much does an electronic monitoring tag cost", "who pays for electronic tags"],
    "other": ["What is the capital of France?"],
}


def test_paraphrases_become_one_topic_each(service, tmp_path):
    kept = KeptQuestions(Database(f"sqlite:///{tmp_path / 'r.sqlite3'}"), keep_days=90)
    embedder = service.embedder
    for group, questions in QUESTIONS.items():
        for q in questions:
            kind = "thumbs_down" if group == "tags" else "declined"
            kept.add(redact(q), kind, "declined_not_covered", vector=embedder.embed_query(q), embedder=embedder.name)
    kept.add(
        redact("an old one about housing after prison"), "declined", "declined_not_covered", at=time.time() - 40 * DAY
    )

    found = gaps.topics(kept, 30, embedder.embed_documents, embedder.name)
    grouped = sorted(sorted(t.questions) for t in found)
    assert grouped == sorted(sorted(qs) for qs in QUESTIONS.values())
    housing = next(t for t in found if t.label in QUESTIONS["housing"])
    assert (
        found[0].count == 3 and housing.count == 3 and housing.label in QUESTIONS["housing"] and housing.declined == 3
    )
    tags = next(t for t in found if t.label in QUESTIONS["tags"])
    assert tags.thumbs_down == 2 and tags.declined == 0
    assert [t.count for t in found] == sorted((t.count for t in found), reverse=True)

    rows = list(csv.DictReader(io.StringIO(gaps.to_csv(found))))
    assert len(rows) == 9 and {r["topic"] for r in rows} == {t.label for t in found}


def test_questions_kept_without_a_vector_are_embedded_when_grouped(service, tmp_path):
    kept = KeptQuestions(Database(f"sqlite:///{tmp_path / 'r.sqlite3'}"), keep_days=90)
    for q in QUESTIONS["dbs"]:
        kept.add(redact(q), "declined", "declined_not_covered")  # no vector (e.g. the model was down)
    found = gaps.topics(kept, 30, service.embedder.embed_documents, service.embedder.name)
    assert len(found) == 1 and found[0].count == 3
    assert all(r.vector is not None and r.embedder == service.embedder.name for r in kept.since(30))


def test_weekly_figures_show_every_week(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    now = time.time()
    AnswerCounts(db).add({(week_of(now), "answered"): 7, (week_of(now), "declined"): 2})
    FeedbackStore(db).record("a" * 48, False)
    FeedbackStore(db).record("b" * 48, True)
    weeks = gaps.weekly(AnswerCounts(db), FeedbackStore(db), weeks=4, now=now)
    assert [w["week"] for w in weeks] == [week_of(now - 7 * DAY * k) for k in (3, 2, 1, 0)]
    assert weeks[-1] == {"week": week_of(now), "answered": 7, "declined": 2, "thumbs_up": 1, "thumbs_down": 1}
    assert weeks[0]["answered"] == 0


def test_csv_cells_cannot_run_as_formulas():
    assert gaps._cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert gaps._cell("what is a call-off?") == "what is a call-off?"
