"""The evaluation end to end: every set on its own corpus, split into dev and test, the floors met;
and a deployer's own Q&A file on their own documents, with today's summary keys."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# The summary keys of a run (and of `--qa FILE`): a deployer's scripts read these.
SUMMARY_KEYS = {"questions", "answerable", "retrieval", "answers", "declines", "latency_ms", "by_topic", "outcomes"}


def _eval(args: list[str], data_dir, timeout: int = 300, **env) -> subprocess.CompletedProcess:
    # The default embedder: the real model where it is installed (CI), else the hashing fallback.
    return subprocess.run(
        [sys.executable, "-m", "evals", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env={**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), **env},
    )


@pytest.fixture(scope="module")
def all_sets(tmp_path_factory):
    """One run of every set with the peer and the shipped floors, shared by the tests below."""
    from evals.sets import SETS

    tmp = tmp_path_factory.mktemp("eval")
    proc = _eval(
        ["--baseline", "--out", str(tmp / "run"), "--thresholds", str(ROOT / "evals" / "thresholds.json")],
        tmp / "data",
        timeout=900,
    )
    present = [s.name for s in SETS if s.qa.is_file()]
    return proc, tmp / "run", present


def test_every_set_runs_and_meets_its_floors(all_sets):
    proc, out, present = all_sets
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "BELOW FLOOR" not in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary) == present and present[0] == "original"
    table = (out / "report.md").read_text()
    for name in present:
        assert set(summary[name]) == {"dev", "test", "all"}
        for split in ("dev", "test", "all"):
            assert set(summary[name][split]) == SUMMARY_KEYS | {"baseline", "ratios"}
        assert (
            summary[name]["dev"]["questions"] + summary[name]["test"]["questions"] == summary[name]["all"]["questions"]
        )
        assert f"| {name} | dev |" in table and f"| {name} | test |" in table
        folder = out / name
        for file in ("results.jsonl", "baseline_results.jsonl", "summary.json", "config.json", "report.md"):
            assert (folder / file).is_file(), f"{name}/{file}"
        assert (folder / "fact_recall_by_topic.png").stat().st_size > 1000
        rows = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
        assert {r["split"] for r in rows} == {"dev", "test"} and all("signals" in r for r in rows)
        config = json.loads((folder / "config.json").read_text())
        assert config["embedder_name"] in (folder / "report.md").read_text()
        assert config["data_dir"].endswith(os.path.join("eval", name))  # each set has its own index
        # The reader that answered is named by its hash (None when the base model or hashing did).
        assert config["reader"] in (None, config["embedder_name"])
        assert config["reader"] is None or config["reader"].startswith("clinks-reader@")
        outcomes = summary[name]["all"]["outcomes"]
        for kind in ("answerable", "unanswerable"):
            if outcomes[kind]["declined"] is not None:
                assert abs(sum(outcomes[kind].values()) - 1) < 0.01
    assert "embedder_name" in table and "## Failed questions" in (out / "original" / "report.md").read_text()


def test_the_assistant_beats_the_naive_peer_on_every_test_half(all_sets):
    proc, out, present = all_sets
    assert (out / "summary.json").is_file(), proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    for name in present:
        ours, peer = summary[name]["test"], summary[name]["test"]["baseline"]
        assert ours["answers"]["citation_precision"] > peer["answers"]["citation_precision"], name
        assert ours["declines"]["decline_recall"] > peer["declines"]["decline_recall"], name


def test_a_deployers_own_questions_on_their_own_documents(tmp_path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "opening-hours.md").write_text(
        "---\ntitle: Opening hours\nurl: https://example.org/hours\n---\n\n## When we are open\n\n"
        "The advice line is open from 9am to 5pm, Monday to Friday. It is closed on bank holidays.\n\n"
        "## Who can call\n\nAnyone working in a voluntary organisation can call the advice line for free.\n",
        encoding="utf-8",
    )
    qa = tmp_path / "mine.jsonl"
    lines = [
        {
            "id": "h1",
            "topic": "hours",
            "question": "When is the advice line open?",
            "answerable": True,
            "facts": [["9am to 5pm"]],
            "sources": ["open from 9am to 5pm"],
        },
        {"id": "h2", "topic": "other", "question": "What is the capital of Peru?", "answerable": False},
    ]
    qa.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    out = tmp_path / "run"
    proc = _eval(
        ["--qa", str(qa), "--baseline", "--out", str(out)], tmp_path / "data", ASSISTANT_CORPUS_DIR=str(corpus)
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == SUMMARY_KEYS | {"baseline", "ratios"}  # today's keys, nothing added
    assert summary["questions"] == 2 and summary["answerable"] == 1
    assert json.loads((out / "config.json").read_text())["corpus_dir"] == str(corpus)
    assert (out / "results.jsonl").is_file() and (out / "baseline_results.jsonl").is_file()


def test_malformed_qa_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "qa.jsonl"
    bad.write_text('{"id": "a"}\n')
    proc = _eval(["--qa", str(bad), "--out", str(tmp_path / "o")], tmp_path / "d", timeout=120)
    assert proc.returncode == 2 and "line 1" in proc.stderr and "Traceback" not in proc.stderr


def test_an_unknown_set_is_a_clear_error(tmp_path):
    proc = _eval(["--set", "nope", "--out", str(tmp_path / "o")], tmp_path / "d", timeout=120)
    assert proc.returncode == 2 and "unknown set 'nope'" in proc.stderr and "original" in proc.stderr
    assert not (tmp_path / "o").exists()
