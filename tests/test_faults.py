"""Faults, with real servers: Chroma down at start and mid-run, a read-only data folder, two
ingests at once, a killed ingest, and a document changed while the server runs."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.servers import CHROMA, App, assistant_env, can_mount_read_only, run_cli, start_chroma, stop

NO_COST = "There is no cost to qualify onto the Dynamic Framework."
COST_QUESTION = "Does it cost anything to qualify onto the Dynamic Framework?"


def wait_for(check, seconds: float = 20, every: float = 0.3):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    return check()


@pytest.mark.skipif(shutil.which(str(CHROMA)) is None, reason="chroma CLI not installed")
def test_chroma_server_down_mid_run_and_at_start_then_back(tmp_path):
    chroma_dir = tmp_path / "chroma"
    chroma, port = start_chroma(chroma_dir)
    env = assistant_env(tmp_path / "data", embedder="hashing", chroma_host="127.0.0.1", chroma_port=port)
    app = None
    try:
        assert run_cli(env, "ingest").returncode == 0
        app = App(env, log=tmp_path / "app.log").wait_ready()
        assert app.http.get("/healthz").json()["status"] == "ok"

        stop(chroma)  # down mid-run: still answers, and the health check says so
        answer = app.ask(COST_QUESTION).json()
        assert answer["status"] == "answered" and NO_COST in answer["answer"]
        health = wait_for(lambda: (r := app.http.get("/healthz")).status_code == 503 and r)
        assert health.json()["status"] == "degraded" and health.json()["parts"]["vector_store"]["ok"] is False
        app.stop()

        app = App(env, log=tmp_path / "app2.log").wait_ready()  # restarted while Chroma is down
        assert app.ask(COST_QUESTION).json()["status"] == "answered"
        assert app.http.get("/healthz").status_code == 503

        chroma, _ = start_chroma(chroma_dir, port)  # back: found again without a restart
        health = wait_for(lambda: (r := app.http.get("/healthz")).status_code == 200 and r, seconds=30)
        assert health and health.json()["parts"]["vector_store"]["ok"] is True
        assert "Traceback" not in app.log()
    finally:
        if app:
            app.stop()
        stop(chroma)


@pytest.mark.skipif(not can_mount_read_only(ROOT / ".pytest_cache"), reason="cannot mount a read-only folder here")
def test_a_read_only_data_folder_still_serves_answers(tmp_path):
    data = tmp_path / "data"
    env = assistant_env(data, embedder="hashing")
    assert run_cli(env, "ingest").returncode == 0
    answer_before = run_cli(env, "ask", COST_QUESTION)
    app = App(env, read_only=data, log=tmp_path / "app.log").wait_ready()
    try:
        r = app.ask(COST_QUESTION)
        assert r.status_code == 200 and NO_COST in r.json()["answer"]
        feedback = app.http.post("/api/feedback", json={"answer_id": r.json()["answer_id"], "helpful": True})
        assert feedback.status_code == 503 and feedback.json()["error"]["code"] == "feedback_unavailable"
        health = app.http.get("/healthz").json()
        assert health["parts"]["index"]["ok"] is True and health["parts"]["feedback_store"]["ok"] is False
        assert "Traceback" not in app.log() and "Traceback" not in feedback.text
    finally:
        app.stop()
    # The command line too (the same mount, for one command)
    mount = f'mount --bind {data} {data} && mount -o remount,bind,ro {data} && exec "$@"'
    out = subprocess.run(
        ["unshare", "-m", "sh", "-c", mount, "sh", sys.executable, "-m", "assistant.cli", "ask", COST_QUESTION],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 0 and NO_COST in out.stdout and "Traceback" not in out.stderr
    assert answer_before.returncode == 0


def test_two_ingests_at_once_leave_one_good_index(tmp_path):
    env = assistant_env(tmp_path / "data", embedder="hashing")
    command = [sys.executable, "-m", "assistant.cli", "ingest"]
    procs = [
        subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)
    ]
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], results
    assert all(b"Traceback" not in err for _, err in results)
    from assistant.corpus.index import Manifest
    from assistant.service import Service
    from tests.conftest import make_settings

    svc = Service(make_settings(tmp_path))
    assert {c.name for c in svc.client.list_collections()} == {Manifest.read(svc.settings.index_dir).collection}
    assert NO_COST in svc.ask(COST_QUESTION).text


def test_a_killed_ingest_leaves_the_old_index_answering_and_nothing_behind(tmp_path, corpus_copy):
    data = tmp_path / "data"
    env = assistant_env(data, embedder="hashing", corpus_dir=str(corpus_copy))
    assert run_cli(env, "ingest").returncode == 0
    # A rebuild for another embedder (the semantic model) takes seconds: kill it half-way.
    env_semantic = {**env, "ASSISTANT_EMBEDDER": "auto"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "ingest"],
        env=env_semantic,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pending = data / "index" / "pending-collection.txt"
    assert wait_for(pending.exists, seconds=60, every=0.05), "the rebuild never started"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    answer = run_cli(env, "ask", COST_QUESTION)  # the old (hashing) index still answers
    assert answer.returncode == 0 and NO_COST in answer.stdout.decode()
    assert run_cli(env, "ingest").returncode == 0  # the next ingest tidies up
    from assistant.corpus.index import Manifest
    from assistant.service import Service
    from tests.conftest import make_settings

    svc = Service(make_settings(tmp_path, corpus_copy))
    assert {c.name for c in svc.client.list_collections()} == {Manifest.read(svc.settings.index_dir).collection}
    assert not pending.exists() and not list((data / "index").glob(".*.tmp*"))


def test_a_changed_document_is_picked_up_by_every_worker_without_a_restart(tmp_path, corpus_copy):
    env = assistant_env(tmp_path / "data", embedder="hashing", corpus_dir=str(corpus_copy), rate_limit="")
    assert run_cli(env, "ingest").returncode == 0
    app = App(env, workers=2, log=tmp_path / "app.log").wait_ready()
    try:
        assert NO_COST in app.ask(COST_QUESTION).json()["answer"]
        doc = corpus_copy / "probation-services.md"
        doc.write_text(doc.read_text().replace(NO_COST, "Qualifying onto the Dynamic Framework costs £75 a year."))
        version = app.http.get("/healthz").json()["parts"]["index"]["version"]
        assert run_cli(env, "ingest").returncode == 0

        def all_new():
            # several questions, so both worker processes are asked
            answers = [app.ask(COST_QUESTION).json()["answer"] for _ in range(8)]
            return all("£75 a year" in a for a in answers)

        assert wait_for(all_new, seconds=20), "a worker still quotes the old text"
        assert app.http.get("/healthz").json()["parts"]["index"]["version"] != version
        assert "Traceback" not in app.log()
    finally:
        app.stop()
