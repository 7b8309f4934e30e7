"""A full disk and read-only folders, for real: `assistant serve` on a small tmpfs that the test
fills up, or with its folders mounted read-only (tests/mounts.py). A change in the console is
refused with a plain JSON error (507 disk full, 503 read-only), nothing is left half-done, later
changes work once there is space again, and /healthz says when feedback or question records
cannot be written."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import ROOT
from tests.mounts import MountedApp, can_mount, fill
from tests.servers import assistant_env, run_cli
from tests.test_faults import wait_for

PASSWORD = "a long console passphrase"
ADMIN = ("admin", PASSWORD)
EXPENSES = (
    b"---\ntitle: Volunteer expenses policy\nurl: https://example.org/expenses\n---\n# Volunteer expenses\n\n"
    b"## Mileage\n\nVolunteers who drive to the prison visitor centre can claim mileage at 45p per mile.\n"
)
COST_QUESTION = "Does it cost anything to qualify onto the Dynamic Framework?"
DECLINED = "what songs should our prison choir sing at the summer concert?"

pytestmark = pytest.mark.skipif(
    not can_mount(ROOT / ".pytest_cache"),
    reason="cannot mount a tmpfs or read-only folder here (needs root and unshare)",
)
SCRIPT = {"X-Requested-With": "clinks-console"}  # every /api/admin/ change sends it (test_console.py)


def prepared(tmp_path):
    """A corpus and its index (hashing embedder), in `source/`, with the records database made."""
    source = tmp_path / "source"
    corpus = source / "corpus"
    corpus.mkdir(parents=True)
    for name in ("probation-services.md", "glossary.yaml", "assistant.yaml"):
        shutil.copy(ROOT / "corpus" / name, corpus)
    env = assistant_env(source / "data", embedder="hashing", corpus_dir=str(corpus))
    assert run_cli(env, "ingest").returncode == 0
    from assistant.stores.database import Database

    Database(f"sqlite:///{source / 'data' / 'feedback.sqlite3'}").migrate()
    return source


def console_loaded(app, seconds: float = 120) -> None:
    """Log in and wait until the console (Gradio, loaded in the background after start-up) is up:
    its import must not share the test's full disk and busy cores with the change under test."""
    import re

    page = app.http.get("/admin/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    app.http.post("/admin/login", data={"password": PASSWORD, "csrf": token}, follow_redirects=False)
    assert wait_for(lambda: "Starting - staff console" not in app.http.get("/admin/").text, seconds, every=0.5)


def job_done(app, job_id, seconds=120):
    import httpx

    def finished():
        try:
            job = app.http.get(f"/api/admin/jobs/{job_id}", auth=ADMIN).json()["job"]
        except httpx.TimeoutException:
            # Seen once in three runs under load, after a full disk: one poll got no answer in 30 s
            # (cause not found; the closing note of issue 17 says so). The next poll is answered.
            return None
        return job if job["state"] != "running" else None

    return wait_for(finished, seconds)


def files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_full_disk_refuses_a_change_whole_and_the_next_one_works_once_there_is_space(tmp_path):
    source = prepared(tmp_path)
    disk = tmp_path / "disk"
    disk.mkdir()
    env = assistant_env(
        disk / "data", embedder="hashing", corpus_dir=str(disk / "corpus"), admin_password=PASSWORD, rate_limit=""
    )
    app = MountedApp(env, disk=disk, size_mb=24, source=source, log=tmp_path / "app.log").wait_ready()
    try:
        corpus, data = app.seen(disk / "corpus"), app.seen(disk / "data")
        before = files(corpus)
        filler = fill(app.seen(disk))
        r = app.http.post("/api/admin/documents", auth=ADMIN, headers=SCRIPT, files={"file": ("expenses.md", EXPENSES)})
        assert r.status_code == 507, r.text
        error = r.json()["error"]
        assert (
            error["code"] == "disk_full"
            and "disk is full" in error["message"]
            and "nothing was changed" in error["message"]
        )
        assert files(corpus) == before  # no half-written file, hidden or not
        assert not list((data / "console-backups").glob("*")) if (data / "console-backups").exists() else True
        # the answers go on
        assert app.ask(COST_QUESTION).json()["status"] == "answered"

        filler.unlink()  # space again: the next change is made and indexed (no 409 "ingest_running")
        r = app.http.post("/api/admin/documents", auth=ADMIN, headers=SCRIPT, files={"file": ("expenses.md", EXPENSES)})
        assert r.status_code == 202, r.text
        job = job_done(app, r.json()["job"]["id"])
        assert job and job["state"] == "done", job
        assert "expenses.md" in files(corpus)
        assert "Traceback" not in app.log()
    finally:
        app.stop()


def test_a_disk_that_fills_during_the_ingest_undoes_the_change_and_says_why(tmp_path):
    source = prepared(tmp_path)
    disk = tmp_path / "disk"
    disk.mkdir()
    env = assistant_env(
        disk / "data", embedder="hashing", corpus_dir=str(disk / "corpus"), admin_password=PASSWORD, rate_limit=""
    )
    # A long document: it fits on the disk, its index does not.
    paragraphs = "".join(
        f"## Part {i}\n\nVolunteers in team {i} who drive to visitor centre {i} can claim mileage for journey {i}.\n\n"
        for i in range(4000)
    )
    big = b"---\ntitle: Long policy\nurl: https://example.org/long\n---\n# Long policy\n\n" + paragraphs.encode()
    app = MountedApp(env, disk=disk, size_mb=24, source=source, log=tmp_path / "app.log").wait_ready()
    try:
        console_loaded(app)
        corpus = app.seen(disk / "corpus")
        before = files(corpus)
        filler = fill(app.seen(disk), leave_bytes=len(big) + 400_000)
        r = app.http.post("/api/admin/documents", auth=ADMIN, headers=SCRIPT, files={"file": ("long.md", big)})
        assert r.status_code == 202, r.text
        job = job_done(app, r.json()["job"]["id"])
        assert job["state"] == "failed", job
        assert "disk is full" in job["message"] and "the change was undone" in job["message"], job
        assert files(corpus) == before
        assert app.ask(COST_QUESTION).json()["status"] == "answered"
        filler.unlink()
        r = app.http.post("/api/admin/documents", auth=ADMIN, headers=SCRIPT, files={"file": ("expenses.md", EXPENSES)})
        assert r.status_code == 202, r.text
        assert job_done(app, r.json()["job"]["id"])["state"] == "done"
        assert "Traceback" not in app.log()
    finally:
        app.stop()


def test_healthz_shows_feedback_and_question_records_failing_on_a_full_disk_until_they_work(tmp_path):
    source = prepared(tmp_path)
    disk = tmp_path / "disk"
    disk.mkdir()
    env = assistant_env(disk / "data", embedder="hashing", corpus_dir=str(disk / "corpus"), rate_limit="")
    app = MountedApp(env, disk=disk, size_mb=24, source=source, log=tmp_path / "app.log").wait_ready()
    try:
        answer = app.ask(COST_QUESTION).json()
        assert (
            app.http.post("/api/feedback", json={"answer_id": answer["answer_id"], "helpful": True}).status_code == 200
        )
        health = app.http.get("/healthz").json()["parts"]
        assert health["feedback_store"]["ok"] and health["question_records"]["ok"]

        filler = fill(app.seen(disk))
        statuses = []
        for i in range(30):  # enough writes that the database's journal must grow
            a = app.ask(f"{DECLINED} ({i})").json()
            statuses.append(
                app.http.post("/api/feedback", json={"answer_id": a["answer_id"], "helpful": False}).status_code
            )
            if 503 in statuses:
                break
        assert 503 in statuses, statuses
        parts = app.http.get("/healthz").json()["parts"]
        assert parts["feedback_store"]["ok"] is False and "disk is full" in parts["feedback_store"]["detail"]
        records = wait_for(
            lambda: (p := app.http.get("/healthz").json()["parts"])["question_records"]["ok"] is False and p, 30
        )
        assert records and "disk is full" in records["question_records"]["detail"]

        filler.unlink()
        a = app.ask(COST_QUESTION).json()
        assert app.http.post("/api/feedback", json={"answer_id": a["answer_id"], "helpful": True}).status_code == 200
        healthy = wait_for(
            lambda: (
                all(
                    (p := app.http.get("/healthz").json()["parts"])[k]["ok"]
                    for k in ("feedback_store", "question_records")
                )
                and p
            ),
            30,
        )
        assert healthy, app.http.get("/healthz").json()
        assert "Traceback" not in app.log()
    finally:
        app.stop()


@pytest.mark.parametrize("which", ["data", "corpus"])
def test_a_read_only_folder_refuses_a_change_with_a_plain_503(tmp_path, which):
    source = prepared(tmp_path)
    data, corpus = source / "data", source / "corpus"
    env = assistant_env(data, embedder="hashing", corpus_dir=str(corpus), admin_password=PASSWORD, rate_limit="")
    folder = data if which == "data" else corpus
    app = MountedApp(env, read_only=(folder,), log=tmp_path / "app.log").wait_ready()
    try:
        before = files(corpus)
        r = app.http.post("/api/admin/documents", auth=ADMIN, headers=SCRIPT, files={"file": ("expenses.md", EXPENSES)})
        assert r.status_code == 503, r.text
        error = r.json()["error"]
        assert error["code"] == "read_only" and "read-only" in error["message"], error
        assert files(corpus) == before
        assert app.ask(COST_QUESTION).json()["status"] == "answered"
        again = app.http.post("/api/admin/documents", auth=ADMIN, headers=SCRIPT, files={"file": ("expenses.md", EXPENSES)})
        assert again.status_code == 503  # refused again for the same reason: not stuck on 409
        assert "Traceback" not in app.log()
    finally:
        app.stop()
