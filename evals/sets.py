"""The frozen question sets, each with its own corpus: the one place that says what `assistant eval` runs.

A set's questions are scored only against its own documents, and each set gets its own index
(under <data_dir>/eval/<set>), so the sets never mix and a rerun reuses what was embedded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
READER_DATA = HERE / "reader-data"


@dataclass(frozen=True)
class EvalSet:
    name: str
    qa: Path  # JSON Lines, the format of evals/qa.jsonl
    corpus: Path  # the folder of documents the questions are about
    fit_on: str = "dev"  # what `assistant fit-decision` may read: the dev half, "all", or "none"


SETS: tuple[EvalSet, ...] = (
    EvalSet("original", HERE / "qa.jsonl", ROOT / "corpus"),
    EvalSet("voices", HERE / "voices.jsonl", ROOT / "corpus"),
    EvalSet("other", HERE / "other-corpus" / "qa.jsonl", HERE / "other-corpus" / "docs"),
    # The reader's documents (evals/reader-data/, split by document): dev chooses, test only reports.
    EvalSet("reader-dev", READER_DATA / "dev" / "questions.jsonl", READER_DATA / "dev" / "docs", fit_on="all"),
    EvalSet("reader-test", READER_DATA / "test" / "questions.jsonl", READER_DATA / "test" / "docs", fit_on="none"),
)


def by_name(names: list[str] | None) -> list[EvalSet]:
    """The sets asked for (all when none are named), in declaration order; an unknown name is a ValueError."""
    known = {s.name: s for s in SETS}
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise ValueError(f"unknown set {', '.join(map(repr, unknown))}; the sets are: {', '.join(known)}")
    return [s for s in SETS if not names or s.name in names]


# Extra questions written only to fit the answer-or-decline model (`assistant fit-decision`):
# every one is used for fitting, none is ever reported, so the frozen sets' test halves stay unseen.
TRAINING_SETS: tuple[EvalSet, ...] = (
    EvalSet("train-probation", HERE / "decision-train" / "probation.jsonl", ROOT / "corpus"),
    EvalSet("train-other", HERE / "decision-train" / "other.jsonl", HERE / "other-corpus" / "docs"),
)
