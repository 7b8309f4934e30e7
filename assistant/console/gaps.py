"""What people ask that the guidance does not answer: kept questions grouped into topics by
meaning, and the weekly figures beside them, for the console and `/api/admin/unanswered`.

Topics are clusters of the questions' vectors (the service's own embedder: the semantic model, or
the hashing fallback), by average-linkage agglomerative clustering under a cosine distance
threshold, so the number of topics follows the questions. Each topic is labelled with its most
typical question (the one closest on average to the others), how many different conversations asked
it (one person asking again and again is one: stores/conversations.py) and how many questions in
all; topics are ranked by conversations. Bounded: the newest `MAX_QUESTIONS` kept questions at most.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.stores.counts import AnswerCounts, week_of
from assistant.stores.feedback import FeedbackStore
from assistant.stores.kept import DAY, KeptQuestion, KeptQuestions

MAX_QUESTIONS = 2000
# Cosine distance under which two groups join. Measured on paraphrases of the same need: with the
# semantic model, rewordings sit at 0.2-0.5 and different topics beyond 0.6; the hashing vectors
# are more literal, so they need a looser threshold.
THRESHOLDS = {"semantic": 0.55, "hashing": 0.8}
EXAMPLES = 5


@dataclass
class Topic:
    label: str
    count: int  # questions (requests)
    declined: int
    thumbs_down: int
    questions: list[str] = field(default_factory=list)  # up to EXAMPLES, most typical first
    last_asked: float = 0.0
    members: list[KeptQuestion] = field(default_factory=list, repr=False)
    conversations: int = 0  # different conversations that asked (a question without one counts alone)

    def to_json(self) -> dict:
        return {
            "label": self.label,
            "count": self.count,
            "conversations": self.conversations,
            "declined": self.declined,
            "thumbs_down": self.thumbs_down,
            "questions": self.questions,
            "last_asked": time.strftime("%Y-%m-%d", time.gmtime(self.last_asked)),
        }


def topics(
    kept: KeptQuestions,
    days: float,
    embed: Callable[[list[str]], list[list[float]]],
    embedder_name: str,
) -> list[Topic]:
    rows = kept.since(days, limit=MAX_QUESTIONS)
    if not rows:
        return []
    vectors = _vectors(kept, rows, embed, embedder_name)
    labels = _cluster(vectors, THRESHOLDS["hashing" if "hashing" in embedder_name else "semantic"])
    out = []
    for label in set(labels):
        index = [i for i, lab in enumerate(labels) if lab == label]
        members = [rows[i] for i in index]
        typical = _typical_order(vectors[index])
        texts = list(dict.fromkeys(members[i].text for i in typical))
        kinds = Counter(m.kind for m in members)
        out.append(
            Topic(
                label=texts[0],
                count=len(members),
                declined=kinds["declined"],
                thumbs_down=kinds["thumbs_down"],
                questions=texts[:EXAMPLES],
                last_asked=max(m.created_at for m in members),
                members=members,
                conversations=len({m.conversation or f"row {m.id}" for m in members}),
            )
        )
    return sorted(out, key=lambda t: (-t.conversations, -t.count, -t.last_asked))


def _vectors(kept: KeptQuestions, rows: list[KeptQuestion], embed, embedder_name: str) -> np.ndarray:
    """Stored vectors where the current embedder made them; the others embedded now and saved."""
    stale = [r for r in rows if r.vector is None or r.embedder != embedder_name]
    fresh = {}
    if stale:
        made = embed([r.text for r in stale])
        fresh = {r.id: np.asarray(v, dtype=np.float32) for r, v in zip(stale, made)}
        kept.set_vectors(fresh, embedder_name)
    matrix = np.stack([fresh.get(r.id, r.vector) for r in rows]).astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def _cluster(vectors: np.ndarray, threshold: float) -> list[int]:
    if len(vectors) == 1:
        return [0]
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average", distance_threshold=threshold)
    return model.fit_predict(vectors).tolist()


def _typical_order(vectors: np.ndarray) -> list[int]:
    """Members ordered by their mean similarity to the others: the most typical first."""
    if len(vectors) == 1:
        return [0]
    similarity = vectors @ vectors.T
    return np.argsort(-similarity.mean(axis=1), kind="stable").tolist()


def weekly(counts: AnswerCounts, feedback: FeedbackStore, weeks: int = 12, now: float | None = None) -> list[dict]:
    """Per week, oldest first: answered, declined, thumbs up, thumbs down (every week shown, zeros too)."""
    now = now or time.time()
    week_starts = [week_of(now - 7 * DAY * k) for k in range(weeks - 1, -1, -1)]
    stored = counts.weekly(since_week=week_starts[0])
    thumbs: Counter = Counter()
    for verdict in feedback.since(7 * weeks + 7, now=now):
        thumbs[(week_of(verdict.created_at), verdict.helpful)] += 1
    return [
        {
            "week": week,
            "answered": stored.get(week, {}).get("answered", 0),
            "declined": stored.get(week, {}).get("declined", 0),
            "thumbs_up": thumbs[(week, True)],
            "thumbs_down": thumbs[(week, False)],
        }
        for week in week_starts
    ]


def to_csv(found: list[Topic]) -> str:
    """One row per kept question, with its topic: what a spreadsheet needs to sort and filter."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["topic", "topic_conversations", "topic_count", "question", "kind", "status", "reason", "date"])
    for topic in found:
        for q in sorted(topic.members, key=lambda m: -m.created_at):
            writer.writerow(
                [
                    _cell(topic.label),
                    topic.conversations,
                    topic.count,
                    _cell(q.text),
                    q.kind,
                    q.status,
                    q.reason or "",
                    time.strftime("%Y-%m-%d", time.gmtime(q.created_at)),
                ]
            )
    return out.getvalue()


def _cell(text: str) -> str:
    """No formula injection: a cell a spreadsheet would run ("=HYPERLINK(...)") starts with a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
