"""How well an encoder reads a split: is the answering unit first, or in the top 3, among every
unit of the split's documents, and does the best score tell answerable from unanswerable (AUC)?

`encode` is any function from texts to L2-normalised rows, so the same figures are computed for
the model in training, its ONNX export, its int8 form and the base model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from evals.reader.data import Split


def auc(positive: list[float], negative: list[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if not positive or not negative:
        return float("nan")
    p, n = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def score_split(split: Split, encode: Callable[[list[str]], np.ndarray]) -> dict[str, float]:
    units = encode(split.units)
    queries = encode([e.query for e in split.examples])
    asked = encode([e.asked for e in split.examples])
    top1 = top3 = 0
    answerable_best, unanswerable_best = [], []
    for row, example in enumerate(split.examples):
        scores = units @ queries[row]
        if example.answerable:
            order = np.argsort(-scores)
            first = min(int(np.where(order == i)[0][0]) for i in example.positives)
            top1 += first == 0
            top3 += first < 3
            answerable_best.append(float(scores.max()))
        else:
            # An off-topic follow-up is judged as asked (its own words), as the assistant judges it.
            own = float((units @ asked[row]).max())
            unanswerable_best.append(min(float(scores.max()), own) if example.kind == "followup_offtopic" else own)
    n = max(len(answerable_best), 1)
    return {
        "top1": round(top1 / n, 3),
        "top3": round(top3 / n, 3),
        "auc": round(auc(answerable_best, unanswerable_best), 3),
        "answerable": len(answerable_best),
        "unanswerable": len(unanswerable_best),
    }
