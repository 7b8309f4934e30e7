"""The evaluation end to end, on the shipped Q&A set: it writes the three files and meets the floors."""

import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def test_eval_with_baseline_writes_report_and_meets_thresholds(tmp_path):
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "data"), "ASSISTANT_EMBEDDER": "hashing"}
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "evals",
            "--baseline",
            "--out",
            str(out),
            "--thresholds",
            str(ROOT / "evals" / "thresholds.json"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {
        "questions",
        "answerable",
        "retrieval",
        "answers",
        "declines",
        "latency_ms",
        "by_topic",
        "baseline",
        "ratios",
    }
    assert (out / "results.jsonl").exists() and "## Failed questions" in (out / "report.md").read_text()
    assert (out / "fact_recall_by_topic.png").stat().st_size > 1000
    # the assistant must stay ahead of the naive peer where it matters
    assert summary["answers"]["citation_precision"] > summary["baseline"]["answers"]["citation_precision"]
    assert summary["declines"]["decline_recall"] > summary["baseline"]["declines"]["decline_recall"]


def test_malformed_qa_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "qa.jsonl"
    bad.write_text('{"id": "a"}\n')
    proc = subprocess.run(
        [sys.executable, "-m", "evals", "--qa", str(bad), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "d"), "ASSISTANT_EMBEDDER": "hashing"},
    )
    assert proc.returncode == 2 and "line 1" in proc.stderr and "Traceback" not in proc.stderr
