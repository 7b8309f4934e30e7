"""Answer or decline: one calibrated score over a few named signals.

One rule comes first: a question that asks for a kind of fact (an amount, a date, a number, a
duration, a contact) is never answered by evidence that holds none; such an answer would only
look like one. The other signals come from the composed answer and from retrieval; a logistic
regression, fitted by `assistant fit-decision` on the dev halves of the evaluation sets, turns
them into the probability that the guidance answers the question. Its weights and threshold are
in `decision.json`, one entry per kind of embedder (a semantic model, or the hashing fallback,
whose cosines mean something else). Without an entry, the rule of old applies: the quoted
evidence must hold enough of the question's weighted words and the kind of fact asked for.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from assistant.corpus.embeddings import fitted_entry

log = logging.getLogger(__name__)

MODEL_FILE = Path(__file__).with_name("decision.json")
# Between the fitted threshold and this probability the answer is given with a plain warning that
# the guidance may not answer exactly that (on dev, about one such answer in three is a near miss).
HEDGE_BELOW = 0.3
FEATURES = (
    "cosine_best",  # the closest quoted sentence to the question, by meaning
    "cosine_first",  # the sentence the answer opens with
    "cosine_margin",  # how far the opening sentence stands above the median candidate
    "lexical_first",  # its lexical match, as a share of the best lexical match
    "coverage",  # share of the question's weighted words in the quoted evidence
    "coverage_known",  # the same, over words the guidance uses somewhere
    "unknown_share",  # weight of the question's words the guidance never uses (paraphrase)
    "opening_words",  # how much the opening says (a bare "London" list item says nothing), up to 20 words
    "agreement",  # keyword and vector search both rank the quoted passage in their top 3
    "dense_top",  # the best passage's vector similarity
)


@dataclass(frozen=True)
class Decision:
    answer: bool
    probability: float | None  # None when the fallback rule decided
    reasons: list[tuple[str, float]]  # each signal's contribution to the log-odds, largest first


@dataclass(frozen=True)
class DecisionModel:
    weights: dict[str, float]
    bias: float
    threshold: float

    def probability(self, signals: dict[str, float]) -> float:
        z = self.bias + sum(w * float(signals.get(name, 0.0)) for name, w in self.weights.items())
        return 1 / (1 + math.exp(-max(min(z, 50), -50)))

    def decide(self, signals: dict[str, float]) -> Decision:
        if signals.get("intent_unmet"):
            return Decision(False, 0.0, [("intent_unmet", 1.0)])  # the one rule before the score
        p = self.probability(signals)
        reasons = sorted(
            ((n, round(w * float(signals.get(n, 0.0)), 3)) for n, w in self.weights.items()), key=lambda r: -abs(r[1])
        )
        return Decision(p >= self.threshold, round(p, 4), reasons)


def load_model(embedder_name: str, path: Path = MODEL_FILE) -> DecisionModel | None:
    """The fitted model for this kind of embedder, or None (then the fallback rule decides)."""
    try:
        entry = fitted_entry(json.loads(path.read_text(encoding="utf-8")), embedder_name)
        if not entry:
            return None
        weights = {name: float(entry["weights"][name]) for name in FEATURES if name in entry["weights"]}
        return DecisionModel(weights, float(entry["bias"]), float(entry["threshold"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        log.warning("The decision model in %s could not be read (%s); using the coverage rule.", path, err)
        return None


def fallback_rule(signals: dict[str, float], min_coverage: float) -> Decision:
    """The rule of old: enough of the question's weighted words, and the kind of fact asked for."""
    coverage, unmet = signals.get("coverage", 0.0), signals.get("intent_unmet", 0.0)
    return Decision(coverage >= min_coverage and not unmet, None, [("coverage", coverage), ("intent_unmet", unmet)])
