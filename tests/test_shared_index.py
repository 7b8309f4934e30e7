"""One index for several app processes (stores/shared_index.py): published versions pulled into
another machine's folders, on SQLite and a real PostgreSQL; and two real `assistant serve`
processes with their own folders, one `chroma run` and one PostgreSQL, where a document uploaded
through one is answered by the other."""

import json
import shutil
import threading
import time

import pytest
import sqlalchemy as sa

from tests.conftest import ROOT
from tests.servers import CHROMA, App, assistant_env, start_chroma, stop
from tests.test_console import ADMIN, EXPENSES, MILEAGE_QUESTION, PASSWORD, SCRIPT


def machine(tmp_path, name, corpus_files=("probation-services.md", "glossary.yaml", "assistant.yaml")):
    """One machine's folders: a corpus folder (a working copy) and an index folder."""
    corpus, index = tmp_path / name / "corpus", tmp_path / name / "data" / "index"
    corpus.mkdir(parents=True)
    index.mkdir(parents=True)
    for file in corpus_files:
        shutil.copy(ROOT / "corpus" / file, corpus)
    return corpus, index


def shared(db_url, corpus, index):
    from assistant.stores.database import Database
    from assistant.stores.shared_index import SharedIndex

    return SharedIndex(Database(db_url), index, corpus)


def fake_ingest(index, version, text="vectors"):
    """What an ingest leaves in the index folder (its content does not matter here)."""
    (index / "units.npz").write_bytes(f"{version} {text}".encode())
    (index / "manifest.json").write_text(json.dumps({"version": version}))


def test_a_published_version_is_pulled_file_for_file(db_url, tmp_path):
    corpus_a, index_a = machine(tmp_path, "a")
    corpus_b, index_b = machine(tmp_path, "b", corpus_files=("glossary.yaml",))
    (corpus_b / "stale.md").write_text("# Only on machine b\n\nAn old document.\n")
    (corpus_a / "more").mkdir()
    (corpus_a / "more" / "expenses.md").write_bytes(EXPENSES)
    (corpus_a / ".expenses.md.upload").write_bytes(b"half an upload")  # hidden: never shared
    a, b = shared(db_url, corpus_a, index_a), shared(db_url, corpus_b, index_b)
    assert b.pull() is False  # nothing published yet: the folders are left alone

    fake_ingest(index_a, "v1")
    a.publish("v1")
    assert a.local_version() == "v1" and b.local_version() == ""
    assert b.pull() is True and b.local_version() == "v1"
    for rel in ("probation-services.md", "glossary.yaml", "assistant.yaml", "more/expenses.md"):
        assert (corpus_b / rel).read_bytes() == (corpus_a / rel).read_bytes()
    assert not (corpus_b / "stale.md").exists() and not (corpus_b / ".expenses.md.upload").exists()
    assert (index_b / "manifest.json").read_bytes() == (index_a / "manifest.json").read_bytes()
    assert b.pull() is False  # already the newest

    # One document changed, one removed: only those are stored again and written.
    (corpus_a / "more" / "expenses.md").write_bytes(EXPENSES.replace(b"45p", b"50p"))
    (corpus_a / "assistant.yaml").unlink()
    fake_ingest(index_a, "v2")
    a.publish("v2")
    untouched = (corpus_b / "probation-services.md").stat().st_mtime_ns
    assert b.pull() is True
    assert b"50p per mile" in (corpus_b / "more" / "expenses.md").read_bytes()
    assert not (corpus_b / "assistant.yaml").exists()
    assert (corpus_b / "probation-services.md").stat().st_mtime_ns == untouched
    with a.db.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(a.db.tables.shared_files)).scalar()
    assert stored == 9  # 6 files of v1 + the changed document and v2's two index files


def test_only_the_last_versions_are_kept(db_url, tmp_path, monkeypatch):
    monkeypatch.setattr("assistant.stores.shared_index.KEEP_VERSIONS", 2)
    corpus, index = machine(tmp_path, "a", corpus_files=("glossary.yaml",))
    a = shared(db_url, corpus, index)
    for n in range(4):
        fake_ingest(index, f"v{n}")
        a.publish(f"v{n}")
    tables = a.db.tables
    with a.db.connect() as conn:
        versions = conn.execute(sa.select(tables.index_versions.c.version)).scalars().all()
        stored = conn.execute(sa.select(sa.func.count()).select_from(tables.shared_files)).scalar()
    assert sorted(versions) == ["v2", "v3"]
    assert stored == 1 + 2 * 2  # the glossary, and each kept version's two index files


def test_a_hostile_row_cannot_write_outside_the_folders(db_url, tmp_path):
    corpus_a, index_a = machine(tmp_path, "a", corpus_files=("glossary.yaml",))
    corpus_b, index_b = machine(tmp_path, "b", corpus_files=())
    a, b = shared(db_url, corpus_a, index_a), shared(db_url, corpus_b, index_b)
    fake_ingest(index_a, "v1")
    a.publish("v1")
    digest = a.latest()[1]["corpus/glossary.yaml"]
    files = {"corpus/../escaped.md": digest, "index/../../escaped.md": digest, "corpus/glossary.yaml": digest}
    with a.db.begin() as conn:
        conn.execute(
            sa.insert(a.db.tables.index_versions).values(
                version="evil", created_at=time.time(), files=json.dumps(files)
            )
        )
    b.pull()
    assert (corpus_b / "glossary.yaml").exists()
    assert not list(tmp_path.rglob("escaped.md"))


def test_one_change_at_a_time_across_processes(db_url, tmp_path):
    from assistant.stores.shared_index import Busy

    corpus, index = machine(tmp_path, "a", corpus_files=())
    first, second = shared(db_url, corpus, index), shared(db_url, corpus, index)
    second.db = type(first.db)(db_url)  # its own engine and connections, as another process has
    with first.lock():
        with pytest.raises(Busy), second.lock(wait=False):
            pass
        released = threading.Event()

        def wait_then_hold():
            with second.lock():
                released.set()

        waiter = threading.Thread(target=wait_then_hold)
        waiter.start()
        assert not released.wait(0.8)  # a waiting one waits...
    assert released.wait(10)  # ...until the first lets go
    waiter.join(10)


@pytest.mark.skipif(not CHROMA.exists(), reason="the chroma command is not installed")
def test_two_app_processes_share_one_index(tmp_path, pg_cluster):
    """Two machines: separate folders, one Chroma server, one PostgreSQL. A document uploaded
    through one is answered by the other within 10 s; removed through the other, the first stops
    quoting it."""
    chroma, chroma_port = start_chroma(tmp_path / "chroma")
    url = pg_cluster.new_database("shared_two_apps")
    apps = []
    try:
        for name in ("a", "b"):
            corpus, _ = machine(tmp_path, name)
            env = assistant_env(
                tmp_path / name / "data",
                corpus_dir=corpus,
                embedder="hashing",
                chroma_host="127.0.0.1",
                chroma_port=chroma_port,
                database_url=url,
                admin_password=PASSWORD,
                answer_id_key="the same secret on every machine",
                rate_limit="",
            )
            apps.append(App(env, log=tmp_path / f"{name}.log").wait_ready())
        a, b = apps
        assert "45p" not in b.ask(MILEAGE_QUESTION).json()["answer"]

        started = time.time()
        response = a.http.post(
            "/api/admin/documents", auth=ADMIN, headers=SCRIPT, files={"file": ("expenses.md", EXPENSES)}
        )
        assert response.status_code == 202, response.text
        job = wait_for_job(a, response.json()["job"]["id"])
        assert job["state"] == "done", job
        indexed = time.time()
        answer = wait_for_answer(b, MILEAGE_QUESTION, "45p per mile", started + 10)
        print(f"upload -> indexed {indexed - started:.2f} s; indexed -> answered by the other {time.time() - indexed:.2f} s")
        assert answer["citations"][0]["title"] == "Volunteer expenses policy"
        assert (tmp_path / "b" / "corpus" / "expenses.md").read_bytes() == EXPENSES  # b's working copy too
        health = b.http.get("/healthz").json()
        assert health["status"] == "ok", health
        assert health["parts"]["shared_index"]["detail"].startswith("answering from the newest version")
        thumbs = a.http.post("/api/feedback", json={"answer_id": answer["answer_id"], "helpful": True})
        assert thumbs.status_code < 300, thumbs.text  # an answer of one machine, its thumbs up sent to the other

        started = time.time()
        removed = b.http.delete("/api/admin/documents/expenses.md", auth=ADMIN, headers=SCRIPT)
        assert removed.status_code == 202, removed.text
        assert wait_for_job(b, removed.json()["job"]["id"])["state"] == "done"
        wait_for_answer(a, MILEAGE_QUESTION, None, started + 10)
        assert not (tmp_path / "a" / "corpus" / "expenses.md").exists()
    finally:
        for app in apps:
            app.stop()
        stop(chroma)


def wait_for_job(app, job_id, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        job = app.http.get(f"/api/admin/jobs/{job_id}", auth=ADMIN).json()["job"]
        if job["state"] != "running":
            return job
        time.sleep(0.2)
    raise AssertionError("the ingest did not finish")


def wait_for_answer(app, question, quote, deadline):
    """Ask until the answer quotes `quote` (or, with None, no longer quotes the mileage rate)."""
    while True:
        answer = app.ask(question).json()
        text = answer.get("answer", "")
        if (quote in text) if quote else ("45p" not in text):
            return answer
        if time.time() > deadline:
            raise AssertionError(f"not seen within 10 s: {text!r}\n{app.log()[-3000:]}")
        time.sleep(0.25)


@pytest.mark.skipif(not CHROMA.exists(), reason="the chroma command is not installed")
def test_the_database_going_down_leaves_every_machine_answering(tmp_path, caplog):
    """Its own PostgreSQL, stopped half-way: answers go on from the index loaded, a change is refused
    with a plain message, and a machine starting meanwhile answers from its own copy if it has one."""
    from assistant.corpus.index import IndexError_
    from assistant.service import Service
    from tests.conftest import make_settings
    from tests.pg_cluster import Cluster

    cluster, stopped = Cluster().start(), False
    chroma, chroma_port = start_chroma(tmp_path / "chroma")
    try:

        def settings(name):
            corpus, _ = machine(tmp_path, name)
            return make_settings(
                tmp_path / name, corpus, chroma_host="127.0.0.1", chroma_port=chroma_port, database_url=cluster.url
            )

        a, b = Service(settings("a")), Service(settings("b"))
        assert a.ensure_index() is not None  # the first builds it...
        assert b.ensure_index() is None  # ...the second takes it, embedding nothing
        assert b.deps().version == a.deps().version
        assert b.health()["shared_index"]["ok"] is True

        cluster.stop()
        stopped = True
        assert "IASME Gold" in b.ask("What is IASME Gold?").text
        shared = b.health()["shared_index"]
        assert shared["ok"] is False and "answering from version" in shared["detail"]
        with pytest.raises(IndexError_, match="cannot be reached .*Nothing was changed"):
            a.ingest()
        restarted = Service(b.settings)  # b again, after a restart: its own copy answers
        assert restarted.ensure_index() is None and "IASME Gold" in restarted.ask("What is IASME Gold?").text
        with pytest.raises(IndexError_, match="cannot be reached"):
            Service(settings("c")).ensure_index()  # a new machine has no copy: said plainly
    finally:
        stop(chroma)
        if not stopped:
            cluster.stop()


@pytest.mark.skipif(not CHROMA.exists(), reason="the chroma command is not installed")
def test_an_older_folder_is_not_published_over_a_newer_one(tmp_path):
    """`assistant ingest` on a machine whose folder is behind would undo another machine's change:
    it is refused with what to do; `assistant pull` brings the folder up to date; `--force` publishes."""
    from tests.servers import run_cli

    chroma, chroma_port = start_chroma(tmp_path / "chroma")
    try:
        db = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        envs = {}
        for name in ("a", "b"):
            corpus, _ = machine(tmp_path, name)
            envs[name] = assistant_env(
                tmp_path / name / "data", corpus_dir=corpus, embedder="hashing", chroma_host="127.0.0.1",
                chroma_port=chroma_port, database_url=db,
            )  # fmt: skip
        first = run_cli(envs["a"], "ingest")
        assert first.returncode == 0 and b"Shared with the other app processes as version" in first.stdout
        taken = run_cli(envs["b"], "pull")
        assert taken.returncode == 0 and b"Updated to the newest shared version" in taken.stdout
        (tmp_path / "a" / "corpus" / "expenses.md").write_bytes(EXPENSES)
        assert run_cli(envs["a"], "ingest").returncode == 0  # a publishes a new document

        (tmp_path / "b" / "corpus" / "notes.md").write_text("# Notes\n\nA note only machine b has.\n")
        refused = run_cli(envs["b"], "ingest")
        assert refused.returncode == 1 and b"older than the guidance shared" in refused.stderr
        assert b"Traceback" not in refused.stderr and b"assistant pull" in refused.stderr

        assert run_cli(envs["b"], "pull").returncode == 0
        assert (tmp_path / "b" / "corpus" / "expenses.md").read_bytes() == EXPENSES
        assert not (tmp_path / "b" / "corpus" / "notes.md").exists()  # a working copy: replaced
        (tmp_path / "b" / "corpus" / "notes.md").write_text("# Notes\n\nA note only machine b has.\n")
        assert run_cli(envs["b"], "ingest").returncode == 0  # in step now: published

        (tmp_path / "a" / "corpus" / "expenses.md").unlink()  # a is behind b now
        assert run_cli(envs["a"], "ingest").returncode == 1
        forced = run_cli(envs["a"], "ingest", "--force")
        assert forced.returncode == 0, forced.stderr
        assert run_cli(envs["b"], "pull").returncode == 0
        assert not (tmp_path / "b" / "corpus" / "expenses.md").exists()
    finally:
        stop(chroma)
