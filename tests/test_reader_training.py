"""The reader's training objective, on a handful of units: after training, a labelled answer
scores above the learned threshold and every unit scores below it for a question the units do not
answer (`no_answer`, note 013). Trained from the verified base model, a few steps on two threads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.corpus import model_files
from evals.reader.data import Example, Split
from evals.reader.train import SETTINGS, TorchEncoder, mine, train

UNITS = [
    "There is no fee to join the framework.",
    "Applications open on 1 March and close on 30 April.",
    "The framework is for voluntary organisations working with people on probation.",
    "Successful bidders are told by email within six weeks.",
    "Each lot covers one region of England and Wales.",
    "Training sessions are held online twice a year.",
]


def tiny_split() -> Split:
    doc = ["framework"] * len(UNITS)
    examples = [
        Example("a1", "framework", "direct", "how much does it cost to sign up", "", True, {0}, [["no fee"]]),
        Example("a2", "framework", "direct", "when can we apply", "", True, {1}, [["1 March"]]),
        Example("a3", "framework", "direct", "how do we find out if we got in", "", True, {3}, [["six weeks"]]),
        Example("n1", "framework", "near_miss", "what's the phone number for the framework manager", "", False),
        Example("n2", "framework", "near_miss", "is there parking at the training venue", "", False),
    ]
    return Split("tiny", UNITS, doc, [u.lower() for u in UNITS], examples, 0)


@pytest.fixture(scope="module")
def trained():
    torch = pytest.importorskip("torch")
    folder = model_files.default_folder()
    try:
        model_files.verify(folder)
    except model_files.ModelFileError:
        pytest.skip("the verified base model is not here (make install fetches it)")
    torch.set_num_threads(2)
    settings = json.loads(SETTINGS.read_text(encoding="utf-8")) | {
        "epochs": 12,
        "batch_size": 5,
        "learning_rate": 1e-4,
        "warmup_share": 0.0,
    }
    split = tiny_split()
    encoder = TorchEncoder(folder, settings["max_tokens"])
    mined = mine(split, encoder.encode, settings)
    run = train(split, encoder, mined, settings, lambda line: None)
    units = encoder.encode(split.units)
    queries = encoder.encode([e.query for e in split.examples])
    return split, run["threshold"], queries @ units.T, settings


def test_answers_score_above_the_learned_threshold_and_near_misses_below_it(trained):
    split, threshold, scores, settings = trained
    assert settings["no_answer"], "the shipped settings train the reader to say the guidance does not answer"
    for row, example in enumerate(split.examples):
        best = float(np.max(scores[row]))
        if example.answerable:
            assert int(np.argmax(scores[row])) in example.positives, example.query
            assert best > threshold, (example.query, best, threshold)
        else:
            assert best < threshold, (example.query, best, threshold)


def test_a_settings_file_that_cannot_be_read_is_a_plain_error(tmp_path, capsys):
    from assistant.cli import main

    broken = tmp_path / "settings.json"
    broken.write_text("{not json", encoding="utf-8")
    for path in (broken, tmp_path / "missing.json"):
        assert main(["train-reader", "--settings", str(path), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert f"the settings file {path} could not be read" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
