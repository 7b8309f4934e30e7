import json

import pytest

from evals.qa import QAFormatError, load_qa, split_of
from evals.run import _read_floors, below_floors, check_floors
from evals.scoring import ItemResult, citation_supported, facts_covered, first_relevant_rank, normalise, summarise


def test_normalisation():
    assert normalise("The ‘Call–Off’ — is **free** [1] and `so`  _on_") == "the 'call-off' - is free and so on"


def test_fact_alternatives_any_one_counts():
    covered, missing = facts_covered(
        "They held Six meetings [2].", [["six meetings", "6 meetings"], ["dynamic framework"]]
    )
    assert covered == [0] and missing == [1]


def test_first_relevant_rank():
    passages = ["nothing here", "Convened SIX meetings to June 2021", "six meetings again"]
    assert first_relevant_rank(passages, ["convened six meetings"]) == 2
    assert first_relevant_rank(passages, ["absent"]) is None


def test_citation_supported_by_evidence_or_fact():
    assert citation_supported("There is no cost to qualify", ["nothing"], [["no cost"]])
    assert not citation_supported("unrelated", ["nothing"], [["no cost"]])


def test_summary_metrics_on_hand_made_cases():
    rs = [
        ItemResult(
            "a",
            "t",
            True,
            False,
            rank=1,
            facts_total=2,
            facts_hit=2,
            citations_total=1,
            citations_supported=1,
            words=10,
            latency_ms=5,
        ),
        ItemResult("b", "t", True, True, rank=3, facts_total=1, facts_hit=0, words=0, latency_ms=7),
        ItemResult("c", "t", False, True, latency_ms=9),
        ItemResult("d", "t", False, False, words=20, latency_ms=11),
    ]
    s = summarise(rs)
    assert s["retrieval"] == {"recall@1": 0.5, "recall@5": 1.0, "mrr@10": round((1 + 1 / 3) / 2, 4)}
    assert s["answers"]["fact_recall"] == round(2 / 3, 4) and s["answers"]["all_facts"] == 0.5
    assert s["answers"]["cited"] == 1.0 and s["answers"]["citation_precision"] == 1.0
    assert s["declines"] == {"decline_recall": 0.5, "false_decline_rate": 0.5}
    assert s["answers"]["answer_words_median"] == 15
    assert below_floors(s, {"declines.decline_recall": 0.6, "declines.false_decline_rate": 0.4}) == [
        "declines.decline_recall = 0.5 (floor 0.6)",
        "declines.false_decline_rate = 0.5 (ceiling 0.4)",
    ]


@pytest.mark.parametrize(
    "line,reason",
    [
        ("not json", "not valid JSON"),
        ('{"id": "x", "topic": "t", "question": "q", "answerable": true, "facts": [], "sources": []}', "needs 'facts'"),
        ('{"id": "x", "topic": "t", "question": "q", "answerable": "yes"}', "'answerable'"),
        (
            '{"id": "x", "topic": "t", "question": "q", "answerable": false, "facts": [["a"]], "sources": []}',
            "must have empty",
        ),
    ],
)
def test_a_malformed_line_is_named(tmp_path, line, reason):
    good = json.dumps({"id": "ok", "topic": "t", "question": "q", "answerable": False, "facts": [], "sources": []})
    path = tmp_path / "qa.jsonl"
    path.write_text(good + "\n" + line + "\n")
    with pytest.raises(QAFormatError, match=f"line 2: .*{reason}"):
        load_qa(path)


def test_the_shipped_qa_set_is_valid_and_big_enough():
    from tests.conftest import ROOT

    items = load_qa(ROOT / "evals" / "qa.jsonl")
    assert len(items) >= 80 and sum(1 for i in items if i.history) >= 10
    assert sum(1 for i in items if not i.answerable) >= 15


def test_the_split_is_fixed_by_the_id():
    # sha256("j03") ends in an even byte: dev; sha256("j01") in an odd one: test. Never moves.
    assert [split_of(i) for i in ("j01", "j02", "j03", "a01", "x")] == ["test", "test", "dev", "dev", "test"]


def test_floors_are_checked_per_set_on_the_test_half():
    half = {"answers": {"fact_recall": 0.7}, "declines": {"false_decline_rate": 0.2}}
    summaries = {"a": {"dev": half, "test": half, "all": half}, "b": {"dev": half, "test": half, "all": half}}
    floors = {
        "a": {"answers.fact_recall": 0.8, "declines.false_decline_rate": 0.3},
        "b": {"answers.fact_recall": 0.6, "declines.false_decline_rate": 0.1},
        "c": {"answers.fact_recall": 0.9},
    }
    failures, notes = check_floors(summaries, floors)
    assert failures == [
        "a.answers.fact_recall = 0.7 (floor 0.8)",
        "b.declines.false_decline_rate = 0.2 (ceiling 0.1)",
    ]
    assert notes == ["floors for 'c' not checked: the set did not run"]


def test_the_shipped_floors_are_per_set_and_name_real_metrics(tmp_path):
    from evals.sets import SETS
    from tests.conftest import ROOT

    floors = _read_floors(str(ROOT / "evals" / "thresholds.json"), per_set=True)
    assert set(floors) <= {s.name for s in SETS} and "original" in floors
    blank = summarise([ItemResult("a", "t", True, False)])
    for set_floors in floors.values():
        assert set_floors and all(k.split(".")[1] in blank.get(k.split(".")[0], {}) for k in set_floors)
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"answers.fact_recall": 0.5}))
    assert _read_floors(str(flat), per_set=False) == {"answers.fact_recall": 0.5}
    with pytest.raises(ValueError, match="per set"):
        _read_floors(str(flat), per_set=True)


def test_every_shipped_set_is_valid_with_both_kinds_of_question_in_each_half():
    from evals.sets import SETS

    for s in SETS:
        if not s.qa.is_file():
            continue
        items = load_qa(s.qa)
        assert s.corpus.is_dir(), s.name
        for split in ("dev", "test"):
            half = [i for i in items if split_of(i.id) == split]
            assert any(i.answerable for i in half) and not all(i.answerable for i in half), (s.name, split)
