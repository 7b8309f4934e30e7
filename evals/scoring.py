"""The scoring rules, exactly as agreed, so results are comparable between runs and systems."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

_MARKER = re.compile(r"\[\d+\]")


def normalise(text: str) -> str:
    text = text.lower()
    text = text.replace("‘", "'").replace("’", "'").replace("“", '"').replace("”", '"')
    text = text.replace("–", "-").replace("—", "-")
    text = _MARKER.sub("", text)
    text = re.sub(r"[*_`]", "", text)
    return " ".join(text.split())


def facts_covered(answer: str, facts: list[list[str]]) -> tuple[list[int], list[int]]:
    """Indexes of the facts the answer states (any alternative as a substring), and of the rest."""
    text = normalise(answer)
    covered = [i for i, alts in enumerate(facts) if any(normalise(a) in text for a in alts)]
    return covered, [i for i in range(len(facts)) if i not in covered]


def first_relevant_rank(passages: list[str], evidence: list[str]) -> int | None:
    wanted = [normalise(e) for e in evidence]
    for rank, text in enumerate(passages, 1):
        body = normalise(text)
        if any(w in body for w in wanted):
            return rank
    return None


def citation_supported(quote: str, evidence: list[str], facts: list[list[str]]) -> bool:
    body = normalise(quote)
    return any(normalise(e) in body for e in evidence) or any(normalise(a) in body for alts in facts for a in alts)


def answer_words(answer: str) -> int:
    return len(_MARKER.sub("", answer).split())


@dataclass
class ItemResult:
    id: str
    topic: str
    answerable: bool
    declined: bool
    rank: int | None = None
    hedged: bool = False  # answered, opening with the plain warning that it may not be exactly that
    facts_total: int = 0
    facts_hit: int = 0
    citations_total: int = 0
    citations_supported: int = 0
    words: int = 0
    latency_ms: float = 0.0
    extra: dict = field(default_factory=dict)


def _share(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def summarise(results: list[ItemResult]) -> dict:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    ranks = [r.rank for r in answerable]
    answered = [r for r in results if not r.declined]
    answered_answerable = [r for r in answerable if not r.declined]
    latencies = sorted(r.latency_ms for r in results)
    return {
        "questions": len(results),
        "answerable": len(answerable),
        "retrieval": {
            "recall@1": _share(sum(1 for k in ranks if k is not None and k <= 1), len(ranks)),
            "recall@5": _share(sum(1 for k in ranks if k is not None and k <= 5), len(ranks)),
            "mrr@10": _share(sum(1 / k for k in ranks if k is not None and k <= 10), len(ranks)),
        },
        "answers": {
            "fact_recall": _share(sum(r.facts_hit for r in answerable), sum(r.facts_total for r in answerable)),
            "all_facts": _share(
                sum(1 for r in answerable if r.facts_total and r.facts_hit == r.facts_total), len(answerable)
            ),
            "citation_precision": _share(
                sum(r.citations_supported for r in answerable), sum(r.citations_total for r in answerable)
            ),
            "cited": _share(sum(1 for r in answered_answerable if r.citations_total), len(answered_answerable)),
            "answer_words_median": statistics.median([r.words for r in answered]) if answered else None,
        },
        "declines": {
            "decline_recall": _share(sum(1 for r in unanswerable if r.declined), len(unanswerable)),
            "false_decline_rate": _share(sum(1 for r in answerable if r.declined), len(answerable)),
        },
        # Answered plainly, answered with a warning ("the closest it comes"), or declined.
        "outcomes": {"answerable": _outcomes(answerable), "unanswerable": _outcomes(unanswerable)},
        "latency_ms": {
            "p50": round(_percentile(latencies, 50), 2) if latencies else None,
            "p95": round(_percentile(latencies, 95), 2) if latencies else None,
        },
    }


def _outcomes(results: list[ItemResult]) -> dict:
    return {
        "answered": _share(sum(1 for r in results if not r.declined and not r.hedged), len(results)),
        "hedged": _share(sum(1 for r in results if r.hedged), len(results)),
        "declined": _share(sum(1 for r in results if r.declined), len(results)),
    }


def _percentile(sorted_values: list[float], pct: float) -> float:
    if len(sorted_values) == 1:
        return sorted_values[0]
    k = (len(sorted_values) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def engine(results: list[ItemResult]) -> dict:
    """With a language model: which engine gave each answer, what became of the model's replies,
    how long its stage took and the tokens it used per call (`extra` holds each answer's report)."""
    called = [r for r in results if r.extra.get("model_outcome")]
    by = Counter(r.extra.get("answered_by", "extractive") for r in results)
    stage = sorted(r.extra.get("model_ms", 0.0) for r in called)
    dropped: Counter = Counter()
    for r in called:
        dropped.update(r.extra.get("dropped") or {})
    return {
        "answered_by": {k: _share(by.get(k, 0), len(results)) for k in ("llm", "extractive")},
        "model_calls": len(called),
        "model_outcomes": dict(Counter(r.extra["model_outcome"] for r in called).most_common()),
        "sentences_dropped": dict(dropped.most_common()),
        "model_stage_ms": {
            "p50": round(_percentile(stage, 50), 1) if stage else None,
            "p95": round(_percentile(stage, 95), 1) if stage else None,
        },
        "tokens_per_call": {
            "input": round(statistics.mean(r.extra.get("input_tokens", 0) for r in called), 1) if called else None,
            "output": round(statistics.mean(r.extra.get("output_tokens", 0) for r in called), 1) if called else None,
        },
    }
