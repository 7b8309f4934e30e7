"""The answer-or-decline decision: the shipped fitted model behaves as its note says."""

import json
import logging

from assistant.answering.decide import FEATURES, MODEL_FILE, DecisionModel, fallback_rule, load_model

STRONG = {
    "cosine_best": 0.8,
    "cosine_first": 0.8,
    "cosine_margin": 0.45,
    "lexical_first": 1.0,
    "coverage": 1.0,
    "coverage_known": 1.0,
    "unknown_share": 0.0,
    "opening_words": 1.0,
    "agreement": 1.0,
    "dense_top": 0.7,
}
WEAK = {
    "cosine_best": 0.2,
    "cosine_first": 0.2,
    "cosine_margin": 0.05,
    "lexical_first": 1.0,
    "coverage": 0.1,
    "coverage_known": 0.1,
    "unknown_share": 0.0,
    "opening_words": 0.1,
    "agreement": 0.0,
    "dense_top": 0.2,
}


def test_the_shipped_model_answers_clear_matches_and_declines_weak_ones():
    for kind in ("all-MiniLM-L6-v2@1110a24", "hashing-ngrams-v2-1024"):
        model = load_model(kind)
        assert model is not None and set(model.weights) <= set(FEATURES)
        assert model.decide(STRONG).answer
        assert model.probability(STRONG) > max(model.probability(WEAK), model.probability(dict.fromkeys(STRONG, 0.0)))
        # the kind of fact asked for is not there: declined whatever the rest says
        assert not model.decide(STRONG | {"intent_unmet": 1.0}).answer
    assert not load_model("all-MiniLM-L6-v2@1110a24").decide(WEAK).answer


def test_the_reasons_name_each_signal_by_its_weight():
    model = DecisionModel({"coverage": 2.0, "dense_top": -1.0}, 0.0, 0.5)
    decision = model.decide({"coverage": 1.0, "dense_top": 0.5})
    assert decision.reasons[0] == ("coverage", 2.0) and 0.5 < decision.probability < 1


def test_a_missing_or_broken_model_file_falls_back_to_the_coverage_rule(tmp_path, caplog):
    assert load_model("hashing", tmp_path / "none.json") is None
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert load_model("hashing", bad) is None
    assert "coverage rule" in caplog.text
    assert fallback_rule({"coverage": 0.6}, 0.5).answer and not fallback_rule({"coverage": 0.4}, 0.5).answer


def test_the_shipped_file_records_its_trade_off_curve():
    data = json.loads(MODEL_FILE.read_text())
    for entry in data.values():
        assert entry["curve"] and 0 < entry["threshold"] < 1 and "dev halves" in entry["fitted_on"]
