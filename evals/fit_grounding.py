"""`assistant fit-grounding`: fit the meaning check of the model's sentences on labelled examples.

The examples are sentences cited to a passage of the two corpora of the frozen sets, labelled
grounded (what the passage says) or not:
- grounded: each sentence of each passage as it stands (`verbatim`), cut to its first clause
  (`shortened`), joined with the next one (`merged`), and the hand-written paraphrases of
  `evals/grounding/sentences.jsonl` (`paraphrase`: written as a model would answer);
- not grounded: a sentence of another section cited to this passage (`other_topic`), and the
  hand-written claims on the passage's topic that it does not make (`topical_claim`).
Two more kinds are only reported, never fitted on: `invented_figure` (the hand-written ones, and
each sentence holding a number with that number changed: the facts check's work) and `negated`
("is" -> "is not": what no check here can see).

Each example gets the two signals the check weighs (see assistant/llm/checks.py): `closeness` to
the cited passage and `margin` over every other passage of its corpus. Passages are split in two
halves by a hash of their id: a logistic regression over the two signals and its threshold are
fitted on the fit half, and the curve is reported on both. The weights, the threshold, the curves
and the tallies go to assistant/llm/grounding.json under the embedder's kind, and are printed as
the tables of note 007.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from assistant.corpus.chunking import strip_markdown
from assistant.llm.checks import THRESHOLDS_FILE, UNFITTED, Closeness, Grounding, MeaningModel, facts
from assistant.llm.sentences import Sentence
from evals.fit_decision import save_fit

HERE = Path(__file__).resolve().parent
HAND_WRITTEN = HERE / "grounding" / "sentences.jsonl"
THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 20)]
FITTED_KINDS = ("verbatim", "shortened", "merged", "paraphrase", "other_topic", "topical_claim")
_CLAUSE = re.compile(r",\s|;\s|\s(?:and|which|but|because|so that|as well as)\s")
_VERB = re.compile(r"\b(is|are|will|must|can|has|have|does)\b")


@dataclass
class Example:
    corpus: str
    chunk_id: str
    sentence: str
    grounded: bool
    kind: str
    cited: float = 0.0  # closeness: the highest cosine with a sentence of the cited passage
    elsewhere: float = 0.0  # the same over every other passage of the corpus
    facts_ok: bool = True
    probability: float = 0.0  # P(grounded) under the fitted model

    @property
    def margin(self) -> float:
        return self.cited - self.elsewhere

    @property
    def half(self) -> str:
        return "fit" if hashlib.sha256(self.chunk_id.encode()).digest()[-1] % 2 == 0 else "report"


def collect(seed: int = 11) -> tuple[list[Example], str]:
    from assistant.corpus.units import units_of
    from assistant.service import Service
    from assistant.settings import Settings
    from evals.sets import by_name

    base = Settings()
    hand = [json.loads(line) for line in HAND_WRITTEN.read_text(encoding="utf-8").splitlines() if line.strip()]
    examples: list[Example] = []
    embedder = ""
    for name, label in (("original", "probation"), ("other", "other")):
        s = by_name([name])[0]
        service = Service(Settings(corpus_dir=s.corpus, data_dir=base.data_dir / "eval" / s.name))
        service.ingest()
        deps = service.deps()
        embedder = service.embedder.name
        chunks = deps.retriever.chunks
        grounding = Grounding(chunks, service.embedder, deps.unit_vectors.matrix, UNFITTED)
        rng = random.Random(seed)
        generated: list[tuple[int, str, bool, str]] = []
        for i, chunk in enumerate(chunks):
            units = [u for u in units_of(chunk, 0) if not u.heading and len(u.text.split()) >= 5]
            others = [u for j, c in enumerate(chunks) if c.section != chunk.section for u in units_of(c, 0)]
            for k, unit in enumerate(units):
                text = strip_markdown(unit.text)
                generated.append((i, text, True, "verbatim"))
                short = _shortened(text)
                if short:
                    generated.append((i, short, True, "shortened"))
                after = units[k + 1] if k + 1 < len(units) and units[k + 1].paragraph == unit.paragraph else None
                if after:
                    joined = text.rstrip(".") + ", and " + _lower_first(strip_markdown(after.text))
                    generated.append((i, joined, True, "merged"))
                if others:
                    generated.append((i, strip_markdown(rng.choice(others).text), False, "other_topic"))
                changed = _changed_number(text, rng)
                if changed:
                    generated.append((i, changed, False, "invented_figure"))
                negated = _VERB.sub(lambda m: m.group(1) + " not", text, count=1)
                if negated != text:
                    generated.append((i, negated, False, "negated"))
        for row in hand:
            if row["corpus"] != label:
                continue
            found = [i for i, c in enumerate(chunks) if row["source"] in c.text]
            if not found:
                raise ValueError(f"{HAND_WRITTEN.name}: no passage holds {row['source']!r}")
            generated.append((found[0], row["sentence"], row["grounded"], row["kind"]))
        for i, text, grounded, kind in generated:
            sentence = Sentence(text, text, [i + 1])
            closeness = grounding.closeness(text, [i])
            facts_ok = not facts(sentence.body).missing_from(grounding._facts[i])
            examples.append(
                Example(label, chunks[i].chunk_id, text, grounded, kind, closeness.cited, closeness.elsewhere, facts_ok)
            )
    return examples, embedder


def _shortened(text: str) -> str:
    for match in _CLAUSE.finditer(text):
        if len(text[: match.start()].split()) >= 6 and match.start() < len(text) - 15:
            return text[: match.start()].rstrip(",;") + "."
    return ""


def _lower_first(text: str) -> str:
    return text if text[:2].isupper() else text[:1].lower() + text[1:]  # "RPDs ..." keeps its capitals


def _changed_number(text: str, rng: random.Random) -> str:
    numbers = re.findall(r"(?<![\w.])\d+(?:\.\d+)?", text)
    if not numbers:
        return ""
    old = rng.choice(numbers)
    new = str(int(float(old)) + rng.choice([1, 2, 3, 10]))
    changed = re.sub(rf"(?<![\w.]){re.escape(old)}(?![\d.])", new, text, count=1)
    return changed if changed != text else ""


GROUNDED_KINDS = ("verbatim", "shortened", "merged", "paraphrase")
UNGROUNDED_KINDS = ("other_topic", "topical_claim")


def fit(examples: list[Example], C: float = 3.0) -> dict:
    """A logistic regression over (closeness, margin) on the fit half, every kind weighing the
    same (there are a few dozen hand-written sentences beside hundreds of generated ones); the
    threshold is the one that best separates grounded from not on the fit half (Youden's J:
    grounded kept minus ungrounded passed, each the mean over its kinds)."""
    from sklearn.linear_model import LogisticRegression

    fit_half = [e for e in examples if e.half == "fit" and e.kind in FITTED_KINDS]
    report_half = [e for e in examples if e.half == "report"]
    counts = {k: sum(e.kind == k for e in fit_half) for k in FITTED_KINDS}
    model = LogisticRegression(C=C, max_iter=5000).fit(
        [[e.cited, e.margin] for e in fit_half],
        [e.grounded for e in fit_half],
        sample_weight=[len(fit_half) / (len(FITTED_KINDS) * counts[e.kind]) for e in fit_half],
    )
    weights = {"closeness": round(float(model.coef_[0][0]), 4), "margin": round(float(model.coef_[0][1]), 4)}
    bias = round(float(model.intercept_[0]), 4)
    for e in examples:
        e.probability = MeaningModel(weights["closeness"], weights["margin"], bias, 0.5).probability(
            Closeness(e.cited, e.elsewhere, None)
        )
    curve_fit = [rates(fit_half, t) for t in THRESHOLDS]
    chosen = max(curve_fit, key=lambda c: (round(c["grounded_kept"] - c["ungrounded_passed"], 3), -c["threshold"]))
    threshold = chosen["threshold"]
    return {
        "weights": weights,
        "bias": bias,
        "threshold": threshold,
        "fitted_on": (
            f"{len(fit_half)} sentences of the fit half ({sum(e.grounded for e in fit_half)} grounded); "
            f"reported on {len(report_half)}"
        ),
        "curve_fit": curve_fit,
        "curve_report": [rates(report_half, t) for t in THRESHOLDS],
        "by_kind_report": by_kind(report_half, threshold),
    }


def rates(examples: list[Example], threshold: float) -> dict:
    """Shares that pass the meaning check at this threshold: per kind, and the means over the
    grounded kinds (kept) and the ungrounded ones (passed)."""
    per_kind = {}
    for kind in FITTED_KINDS:
        rows = [e for e in examples if e.kind == kind]
        if rows:
            per_kind[kind] = round(sum(e.probability >= threshold for e in rows) / len(rows), 3)
    kept = [per_kind[k] for k in GROUNDED_KINDS if k in per_kind]
    passed = [per_kind[k] for k in UNGROUNDED_KINDS if k in per_kind]
    return {
        "threshold": threshold,
        "grounded_kept": round(sum(kept) / max(len(kept), 1), 3),
        "ungrounded_passed": round(sum(passed) / max(len(passed), 1), 3),
        "by_kind": per_kind,
    }


def by_kind(examples: list[Example], threshold: float) -> dict:
    """Per kind: how many, and the share all the checks (facts, then meaning) let through."""
    out = {}
    for kind in sorted({e.kind for e in examples}):
        rows = [e for e in examples if e.kind == kind]
        out[kind] = {
            "n": len(rows),
            "grounded": rows[0].grounded,
            "passed_all_checks": round(sum(e.facts_ok and e.probability >= threshold for e in rows) / len(rows), 3),
            "failed_facts": round(sum(not e.facts_ok for e in rows) / len(rows), 3),
            "median_closeness": round(sorted(e.cited for e in rows)[len(rows) // 2], 3),
        }
    return out


def main(path: Path = THRESHOLDS_FILE) -> int:
    try:
        examples, embedder = collect()
    except ValueError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2
    entry = fit(examples)
    save_fit(path, entry, embedder)
    print(
        f"weights: closeness {entry['weights']['closeness']:+.2f}, margin {entry['weights']['margin']:+.2f}, "
        f"bias {entry['bias']:+.2f}"
    )
    print(
        "| threshold | grounded kept (fit) | ungrounded passed (fit) | grounded kept (report) | ungrounded passed (report) |"
    )
    print("|---|---|---|---|---|")
    for f, r in zip(entry["curve_fit"], entry["curve_report"]):
        mark = " <- chosen" if f["threshold"] == entry["threshold"] else ""
        print(
            f"| {f['threshold']} | {f['grounded_kept']} | {f['ungrounded_passed']} | "
            f"{r['grounded_kept']} | {r['ungrounded_passed']}{mark} |"
        )
    print("\nReport half, by kind, at the chosen threshold (the facts check, then the meaning check):")
    print("| kind | grounded | n | passed all checks | failed the facts check | median closeness |")
    print("|---|---|---|---|---|---|")
    for name, k in entry["by_kind_report"].items():
        print(
            f"| {name} | {k['grounded']} | {k['n']} | {k['passed_all_checks']} | {k['failed_facts']} | "
            f"{k['median_closeness']} |"
        )
    print(f"Written to {path}")
    return 0
