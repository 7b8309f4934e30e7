import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def run_cli(tmp_path, *args):
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "data"), "ASSISTANT_EMBEDDER": "hashing"}
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


def test_ingest_then_ask_json(tmp_path):
    first = run_cli(tmp_path, "ingest")
    assert first.returncode == 0 and "added:" in first.stdout
    second = run_cli(tmp_path, "ingest")
    assert "added: 0" in second.stdout and "unchanged:" in second.stdout

    out = run_cli(tmp_path, "ask", "Does it cost anything to qualify onto the Dynamic Framework?", "--json")
    data = json.loads(out.stdout)
    assert set(data) >= {"answer", "citations", "declined", "status", "timings_ms"}
    assert data["status"] == "answered" and not data["declined"] and "no cost" in data["answer"]
    assert set(data["citations"][0]) >= {"n", "title", "section", "url", "quote"}

    out = run_cli(tmp_path, "ask", "What is the capital of France?", "--json")
    assert json.loads(out.stdout)["declined"] is True

    out = run_cli(tmp_path, "ask", "How often does it need renewing?", "--history", "What is IASME Gold?", "--json")
    assert "every year" in json.loads(out.stdout)["answer"]
    assert "Traceback" not in out.stderr
