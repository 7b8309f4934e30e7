"""Console jobs when things stop: a server killed while it indexes a change leaves a job that the
next start closes (saying what happened, the corpus folder as the index has it, no backup left),
and a job number no job could have is a plain 404."""

from __future__ import annotations

import os
import shutil
import signal
import time

from tests.conftest import ROOT
from tests.servers import App, assistant_env

PASSWORD = "a long console passphrase"
ADMIN = ("admin", PASSWORD)
SCRIPT = {"X-Requested-With": "clinks-console"}  # every /api/admin/ change sends it (test_console.py)


def long_document(parts: int) -> bytes:
    body = "".join(
        f"## Rule {i}\n\nVolunteers in team {i} who drive to visitor centre {i} can claim mileage for journey {i}. "
        f"Claims for team {i} must be made within {i % 30 + 1} days using form {i}.\n\n"
        for i in range(parts)
    )
    return f"---\ntitle: Team rules\nurl: https://example.org/teams\n---\n# Team rules\n\n{body}".encode()


def test_a_job_killed_mid_ingest_is_closed_at_the_next_start_and_its_change_undone(service, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("probation-services.md", "glossary.yaml", "assistant.yaml"):
        shutil.copy(ROOT / "corpus" / name, corpus)
    data = tmp_path / "data"
    shutil.copytree(service.settings.index_dir, data / "index")  # the semantic model's index: seconds to add to
    env = assistant_env(data, embedder="auto", corpus_dir=str(corpus), admin_password=PASSWORD, rate_limit="")
    before = sorted(p.name for p in corpus.iterdir())
    app = App(env, log=tmp_path / "app.log").wait_ready()
    try:
        r = app.http.post("/api/admin/documents", auth=ADMIN, headers=SCRIPT, files={"file": ("teams.md", long_document(600))})
        assert r.status_code == 202, r.text
        job_id = r.json()["job"]["id"]
        deadline = time.time() + 60
        while time.time() < deadline:
            job = app.http.get(f"/api/admin/jobs/{job_id}", auth=ADMIN).json()["job"]
            if job["done"] > 0:
                break
            time.sleep(0.05)
        assert job["state"] == "running" and job["done"] < job["total"], job
    finally:
        os.killpg(app.proc.pid, signal.SIGKILL)  # as the kernel's OOM killer or a power cut would
        app.proc.wait(10)
        app.http.close()
    assert (corpus / "teams.md").exists()  # the change was made, its ingest not finished

    app = App(env, log=tmp_path / "app2.log").wait_ready()
    try:
        job = app.http.get(f"/api/admin/jobs/{job_id}", auth=ADMIN).json()["job"]
        assert job["state"] == "failed", job
        assert "The server stopped while this change was being indexed" in job["message"], job
        assert "'teams.md' was not added: upload it again." in job["message"], job
        assert sorted(p.name for p in corpus.iterdir()) == before  # as the index has it
        assert not list((data / "console-backups").glob("*")) if (data / "console-backups").exists() else True
        listed = app.http.get("/api/admin/documents", auth=ADMIN).json()
        assert listed["job"]["state"] == "failed"
        # and the next change is made (no "another change is being indexed")
        small = b"---\ntitle: Expenses\nurl: https://example.org/e\n---\n# Expenses\n\n## Mileage\n\nVolunteers claim 45p per mile.\n"
        r = app.http.post("/api/admin/documents", auth=ADMIN, headers=SCRIPT, files={"file": ("expenses.md", small)})
        assert r.status_code == 202, r.text
        deadline = time.time() + 60
        while time.time() < deadline:
            job = app.http.get(f"/api/admin/jobs/{r.json()['job']['id']}", auth=ADMIN).json()["job"]
            if job["state"] != "running":
                break
            time.sleep(0.2)
        assert job["state"] == "done", job
        assert "Traceback" not in app.log()
    finally:
        app.stop()


def test_a_job_number_no_job_could_have_is_a_plain_404(tmp_path):
    from fastapi.testclient import TestClient

    from assistant.web.app import create_app
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, admin_password=PASSWORD, rate_limit="")
    with TestClient(create_app(settings)) as client:
        for job_id in ("99999999999999999999999", "2147483648", "-1", "0"):
            r = client.get(f"/api/admin/jobs/{job_id}", auth=ADMIN)
            assert r.status_code == 404, (job_id, r.status_code, r.text)
            assert r.json()["error"]["code"] == "not_found"
