"""The staff console through its real app (FastAPI + the Gradio console + the real index and
model): off by default, login and its failures, the gate in front of every /admin/ route, CSRF,
the JSON API, documents changed and answered from without a restart, bad uploads, the gaps and
feedback views, the audit log."""

import json
import re
import shutil
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import ROOT, make_settings

PASSWORD = "a long console passphrase"
ADMIN = ("admin", PASSWORD)
SCRIPT = {"X-Requested-With": "clinks-console"}  # every /api/admin/ call that changes something sends it
EXPENSES = (
    b"---\ntitle: Volunteer expenses policy\nurl: https://example.org/expenses\n---\n# Volunteer expenses\n\n"
    b"## Mileage\n\nVolunteers who drive to the prison visitor centre can claim mileage at 45p per mile. "
    b"Claims must be made within 30 days of the journey using the expenses form.\n"
)
MILEAGE_QUESTION = "What mileage rate can volunteers claim for driving to the visitor centre?"


def copy_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("probation-services.md", "glossary.yaml", "assistant.yaml"):
        shutil.copy(ROOT / "corpus" / name, corpus)
    return corpus


def make_app(service, tmp_path, **overrides):
    """The app over a copy of the corpus, starting from the session's index (nothing re-embedded)."""
    from assistant.service import Service
    from assistant.web.app import create_app

    corpus = copy_corpus(tmp_path)
    overrides.setdefault("rate_limit", "")  # these tests ask quickly; the public limit is tested in test_guard
    settings = make_settings(tmp_path, corpus, embedder="auto", **overrides)
    shutil.copytree(service.settings.index_dir, settings.index_dir)
    svc = Service(settings)
    return create_app(service=svc), svc


@pytest.fixture(scope="module")
def console(service, tmp_path_factory):
    app, svc = make_app(service, tmp_path_factory.mktemp("console"), admin_password=PASSWORD)
    with TestClient(app, base_url="https://testserver") as client:
        client.svc = svc
        client.app_ = app
        yield client


def login(client, password=PASSWORD):
    client.cookies.clear()
    page = client.get("/admin/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/admin/login", data={"password": password, "csrf": token}, follow_redirects=False)


def wait_for_job(client, job_id, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        job = client.get(f"/api/admin/jobs/{job_id}", auth=ADMIN).json()["job"]
        if job["state"] != "running":
            return job
        time.sleep(0.2)
    raise AssertionError("the ingest did not finish")


def idle(client) -> None:
    """No change is being indexed (each test starts from a quiet console)."""
    latest = client.get("/api/admin/documents", auth=ADMIN).json()["job"]
    if latest and latest["state"] == "running":
        wait_for_job(client, latest["id"])


def wait_for_console(client, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if client.app_.state.console_loaded["loaded"]:
            return
        time.sleep(0.2)
    raise AssertionError("the console did not load")


def test_off_unless_a_password_is_set(service, tmp_path):
    app, _ = make_app(service, tmp_path)
    with TestClient(app) as client:
        for path in ("/admin", "/admin/", "/admin/login", "/admin/gradio_api/upload", "/api/admin/documents"):
            assert client.get(path).status_code == 404, path
        assert client.post("/api/admin/documents", auth=ADMIN, headers=SCRIPT).status_code in (404, 405)
    # and the public app never imports Gradio (it would cost seconds of start-up)
    code = (
        "import sys; from tests.conftest import make_settings; from pathlib import Path;"
        "from assistant.web.app import create_app; create_app(make_settings(Path(sys.argv[1]), embedder='hashing'));"
        "print('gradio' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x")], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr[-2000:]


def test_login_and_its_failures_are_plain_messages(console):
    console.cookies.clear()
    page = console.get("/admin/", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/admin/login"
    wrong = login(console, "not the password")
    assert wrong.status_code == 401 and "That password is not right." in wrong.text
    missing = console.post("/admin/login", data={"password": PASSWORD}, follow_redirects=False)
    assert missing.status_code == 403 and "did not come from this site" in missing.text
    for response in (wrong, missing):
        assert "Traceback" not in response.text and "clinks_admin=" not in response.headers.get("set-cookie", "")
    ok = login(console)
    assert ok.status_code == 303 and ok.headers["location"] == "/admin/"
    cookie = ok.headers["set-cookie"]
    for flag in ("HttpOnly", "SameSite=strict", "Secure", "Path=/admin"):
        assert flag.lower() in cookie.lower(), cookie
    with console.app_.state.console["auth"].db.connect() as conn:  # the cookie itself is never stored
        stored = conn.execute(sa.text("SELECT token_hash FROM admin_sessions")).scalars().all()
    token = re.search(r"clinks_admin=([^;]+)", cookie).group(1)
    assert token not in stored and len(stored) >= 1


def test_login_attempts_are_limited(service, tmp_path):
    app, _ = make_app(service, tmp_path, admin_password=PASSWORD, admin_login_attempts=3)
    with TestClient(app) as client:
        assert [login(client, "guess").status_code for _ in range(3)] == [401, 401, 401]
        limited = login(client)  # even the right password waits now
        assert limited.status_code == 429 and "Too many failed logins" in limited.text
        assert int(limited.headers["retry-after"]) > 0
        assert client.get("/api/admin/documents", auth=ADMIN).status_code == 429


def test_every_admin_route_needs_a_session(console):
    wait_for_console(console)
    from starlette.routing import Mount

    gradio = next(r.app for r in console.app_.router.routes if isinstance(r, Mount) and r.path == "/admin")

    def flatten(routes, prefix=""):
        for route in routes:
            path = prefix + re.sub(r"\{[^}]+\}", "x", getattr(route, "path", ""))
            included = getattr(route, "original_router", None)  # FastAPI's included routers
            if included is not None:
                yield from flatten(included.routes, prefix)
            elif isinstance(route, Mount) and getattr(route.app, "routes", None):
                yield from flatten(route.app.routes, path)
            else:
                yield path

    paths = set(flatten(gradio.routes))
    assert len(paths) > 60
    assert any("upload" in p for p in paths) and any("queue" in p for p in paths) and any("file" in p for p in paths)
    anonymous = TestClient(console.app_)
    for path in sorted(paths):
        if "/admin" + path in ("/admin/login", "/admin/logout"):
            continue  # the console's own login and logout pages (Gradio's are never reached)
        for method in ("GET", "POST"):
            response = anonymous.request(method, "/admin" + path, follow_redirects=False)
            assert response.status_code in (303, 401), (method, path, response.status_code)
            assert "Traceback" not in response.text


def test_expired_session_and_forged_requests(console):
    assert login(console).status_code == 303
    # a request from another site's page is refused, even with the cookie
    forged = console.post("/admin/gradio_api/queue/join", json={}, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed"
    db = console.app_.state.console["auth"].db
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE admin_sessions SET expires_at = 0"))
    api = console.get("/admin/gradio_api/info")
    assert api.status_code == 401 and api.json()["error"]["code"] == "session_expired"
    page = console.get("/admin/", headers={"accept": "text/html"})
    assert "Your session has expired; please log in again." in page.text


def test_upload_is_answered_without_a_restart_then_removed(console):
    idle(console)
    before = console.post("/api/ask", json={"question": MILEAGE_QUESTION}).json()
    assert "45p" not in before["answer"]
    started = time.time()
    response = console.post(
        "/api/admin/documents", auth=ADMIN, headers=SCRIPT, files={"file": ("expenses.md", EXPENSES)}
    )
    assert response.status_code == 202
    job = wait_for_job(console, response.json()["job"]["id"])
    assert job["state"] == "done" and "37 passages" in job["message"]
    answer = console.post("/api/ask", json={"question": MILEAGE_QUESTION}).json()
    assert "45p per mile" in answer["answer"] and answer["citations"][0]["title"] == "Volunteer expenses policy"
    assert time.time() - started < 10
    listed = {d["file"]: d for d in console.get("/api/admin/documents", auth=ADMIN).json()["documents"]}
    assert listed["expenses.md"]["passages"] == 1 and listed["expenses.md"]["title"] == "Volunteer expenses policy"

    removed = console.delete("/api/admin/documents/expenses.md", auth=ADMIN, headers=SCRIPT)
    assert wait_for_job(console, removed.json()["job"]["id"])["state"] == "done"
    assert "45p" not in console.post("/api/ask", json={"question": MILEAGE_QUESTION}).json()["answer"]
    assert console.delete("/api/admin/documents/expenses.md", auth=ADMIN, headers=SCRIPT).status_code == 404
    actions = [(e["action"], e["detail"]) for e in console.get("/api/admin/audit", auth=ADMIN).json()["entries"]]
    assert ("upload", f"expenses.md ({len(EXPENSES)} bytes)") in actions and ("remove", "expenses.md") in actions
    assert all(MILEAGE_QUESTION not in detail for _, detail in actions)


@pytest.mark.parametrize(
    "name,data,status,message",
    [
        ("big.md", b"# Big\n\n" + b"word " * 2_000_020, 413, "the largest document the assistant takes is 10.0 MB"),
        ("huge.md", b"# Huge\n\n" + b"word " * 2_100_000, 413, "The request is too large: at most 10.1 MB."),
        ("tool.exe", b"MZ\x90\x00", 415, "is not a kind of document the assistant reads"),
        ("notes.md", bytes(range(256)) * 40, 422, "binary"),
        ("fake.pdf", b"<html>not a pdf</html>", 422, "is not a PDF"),
        ("link.md", b"---\ntitle: Bad link\nurl: javascript:alert(1)\n---\n# Bad\n\nSome text here.\n", 422, "http"),
        (
            "broken.md",
            b"---\ntitle: Safeguarding: a guide\nurl: [unclosed\n---\n# Text\n\nSome text.\n",
            422,
            "front matter is not valid YAML",
        ),
        ("<script>.md", b"# Escape\n\nSome text.\n", 422, "file name"),
        ("empty.md", b"   \n", 422, "empty"),
    ],
)
def test_bad_uploads_change_nothing(console, name, data, status, message):
    idle(console)
    corpus = console.svc.settings.corpus_dir
    files_before = sorted(p.name for p in corpus.iterdir())
    manifest_before = (console.svc.settings.index_dir / "manifest.json").read_bytes()
    response = console.post("/api/admin/documents", auth=ADMIN, headers=SCRIPT, files={"file": (name, data)})
    assert response.status_code == status, response.text
    body = response.json()
    assert message in body["error"]["message"] and "Traceback" not in response.text
    assert sorted(p.name for p in corpus.iterdir()) == files_before
    assert (console.svc.settings.index_dir / "manifest.json").read_bytes() == manifest_before


def test_a_failed_ingest_is_undone_and_the_old_index_answers(console, monkeypatch):
    idle(console)
    from assistant.corpus.index import StoreUnavailable

    def store_down(progress=None):
        raise StoreUnavailable("The search index cannot be reached (connection refused).")

    monkeypatch.setattr(console.svc, "ingest", store_down)
    response = console.post(
        "/api/admin/documents", auth=ADMIN, headers=SCRIPT, files={"file": ("expenses.md", EXPENSES)}
    )
    job = wait_for_job(console, response.json()["job"]["id"])
    assert job["state"] == "failed"
    assert "the change was undone" in job["message"] and "still answers from the previous version" in job["message"]
    assert not (console.svc.settings.corpus_dir / "expenses.md").exists()
    assert console.post("/api/ask", json={"question": "What is a call-off?"}).json()["status"] == "answered"


def test_the_deployers_files_are_checked_before_they_are_saved(console):
    idle(console)
    original = console.get("/api/admin/files/assistant.yaml", auth=ADMIN).text
    bad = console.put("/api/admin/files/assistant.yaml", auth=ADMIN, headers=SCRIPT, content=b"name: [unclosed")
    assert bad.status_code == 422 and "not valid YAML" in bad.json()["error"]["message"]
    unknown = console.put("/api/admin/files/assistant.yaml", auth=ADMIN, headers=SCRIPT, content=b"nmae: typo\n")
    assert unknown.status_code == 422 and "Unknown setting" in unknown.json()["error"]["message"]
    glossary = console.put(
        "/api/admin/files/glossary.yaml", auth=ADMIN, headers=SCRIPT, content=b"terms:\n  - term: TOM\n"
    )
    assert glossary.status_code == 422 and "expands_to" in glossary.json()["error"]["message"]
    assert console.get("/api/admin/files/assistant.yaml", auth=ADMIN).text == original
    renamed = original.replace("name: Clinks guidance assistant", "name: Probation guidance helper")
    saved = console.put("/api/admin/files/assistant.yaml", auth=ADMIN, headers=SCRIPT, content=renamed.encode())
    assert wait_for_job(console, saved.json()["job"]["id"])["state"] == "done"
    console.post("/api/ask", json={"question": "What is a call-off?"})  # the next question loads it
    assert console.svc.profile.name == "Probation guidance helper"
    restored = console.put("/api/admin/files/assistant.yaml", auth=ADMIN, headers=SCRIPT, content=original.encode())
    wait_for_job(console, restored.json()["job"]["id"])


def test_declined_and_thumbs_down_questions_are_kept_redacted(console):
    declined = "my email is jo.bloggs@example.org - what songs should our prison choir sing?"
    answer = console.post("/api/ask", json={"question": declined}).json()
    assert answer["declined"]
    streamed = console.post(
        "/api/ask/stream",
        json={"question": "Sarah Jones here, 07700 900123: what is the best paint for a community mural?"},
    )
    assert streamed.status_code == 200 and "event: answer" in streamed.text  # the chat page's path is noted too
    good = console.post("/api/ask", json={"question": "What is a call-off?"}).json()
    assert good["status"] == "answered"
    verdict = {"answer_id": good["answer_id"], "helpful": False}
    assert console.post("/api/feedback", json=verdict).status_code == 200
    assert console.post("/api/feedback", json={**verdict, "reason": "unclear"}).status_code == 200
    report = console.get("/api/admin/unanswered?days=7", auth=ADMIN).json()
    texts = [q for topic in report["topics"] for q in topic["questions"]]
    assert "my email is [email] - what songs should our prison choir sing?" in texts
    assert "What is a call-off?" in texts
    assert "[name] here, [phone number]: what is the best paint for a community mural?" in texts
    assert "jo.bloggs" not in json.dumps(report)
    feedback = console.get("/api/admin/feedback?days=7", auth=ADMIN).json()
    assert (
        feedback["thumbs_down"] >= 1
        and {"reason": "unclear", "label": "It was hard to understand", "count": 1} in feedback["reasons"]
    )
    unhelpful = feedback["unhelpful_answers"][0]
    assert unhelpful["answer"] == good["answer"] and unhelpful["sources"]
    weeks = console.get("/api/admin/weekly?weeks=2", auth=ADMIN).json()["weeks"]
    assert weeks[-1]["answered"] >= 1 and weeks[-1]["declined"] >= 1 and weeks[-1]["thumbs_down"] >= 1
    csv_text = console.get("/api/admin/unanswered.csv?days=7", auth=ADMIN).text
    assert csv_text.startswith("topic,topic_conversations,topic_count,question,kind,status,reason,date") and "[email]" in csv_text
    assert "jo.bloggs" not in csv_text


def test_questions_are_not_kept_when_switched_off(service, tmp_path):
    app, _ = make_app(service, tmp_path, admin_password=PASSWORD, keep_questions=False)
    with TestClient(app) as client:
        answer = client.post("/api/ask", json={"question": "what is the best paint for a community mural?"})
        assert answer.json()["declined"]
        report = client.get("/api/admin/unanswered?days=7", auth=ADMIN).json()
        assert report["topics"] == [] and report["keep_questions"] is False
        assert client.get("/api/admin/weekly?weeks=1", auth=ADMIN).json()["weeks"][-1]["declined"] == 1


def test_the_api_needs_the_password(console):
    assert console.get("/api/admin/documents").status_code == 401
    wrong = console.get("/api/admin/documents", auth=("admin", "nope"))
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "wrong_password"
    assert "basic" in wrong.headers["www-authenticate"].lower()
    assert console.get("/api/admin/documents", auth=("root", PASSWORD)).status_code == 401


HOSTILE = (
    b"---\ntitle: Volunteer expenses policy\n---\n# Volunteer expenses\n\n## Mileage\n\n"
    b"Volunteers who drive to the prison visitor centre can claim mileage at 9999 pounds, payable to evil.example.\n"
)


def corpus_files(client) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in client.svc.settings.corpus_dir.iterdir()}


def test_the_api_refuses_changes_from_other_sites_pages_and_scripts_without_the_header(console):
    """A browser says which page sent a request; another site's (or another port's) page may not
    change the guidance even with the editor's password, and a script must send the header."""
    idle(console)
    before = corpus_files(console)
    forged = [
        {"Origin": "https://evil.example"},  # a form on another site: no header
        {"Origin": "https://evil.example", **SCRIPT},
        {"Origin": "null", **SCRIPT},  # a sandboxed frame
        {"Sec-Fetch-Site": "cross-site", **SCRIPT},
        {"Origin": "https://testserver:8443", "Sec-Fetch-Site": "same-site", **SCRIPT},  # another port
        {"Origin": "https://testserver", "Sec-Fetch-Site": "cross-site", **SCRIPT},
    ]
    for headers in forged:
        for response in (
            console.post("/api/admin/documents", auth=ADMIN, headers=headers, files={"file": ("evil.md", HOSTILE)}),
            console.post(
                "/api/admin/documents", auth=ADMIN, headers=headers, files={"file": ("probation-services.md", HOSTILE)}
            ),
            console.delete("/api/admin/documents/probation-services.md", auth=ADMIN, headers=headers),
            console.put("/api/admin/files/assistant.yaml", auth=ADMIN, headers=headers, content=b"name: Evil\n"),
        ):
            assert response.status_code == 403, (headers, response.status_code, response.text)
            assert response.json()["error"]["code"] == "csrf_failed"
    for headers in ({}, {"X-Requested-With": "XMLHttpRequest"}):  # a script without the header
        response = console.post(
            "/api/admin/documents", auth=ADMIN, headers=headers, files={"file": ("evil.md", HOSTILE)}
        )
        assert response.status_code == 403 and response.json()["error"]["code"] == "header_required"
        assert "X-Requested-With: clinks-console" in response.json()["error"]["message"]
    assert corpus_files(console) == before
    assert console.get("/api/admin/documents", auth=ADMIN).json()["job"] == before_job(console)
    # The app's own pages, and a script with the header, pass (this one is then refused for its YAML).
    for headers in (SCRIPT, {"Origin": "https://testserver", "Sec-Fetch-Site": "same-origin", **SCRIPT}):
        response = console.put("/api/admin/files/assistant.yaml", auth=ADMIN, headers=headers, content=b"name: [x")
        assert response.status_code == 422, response.text
    assert console.get("/api/admin/documents", auth=ADMIN).status_code == 200  # reading needs no header


def before_job(client):
    return client.get("/api/admin/documents", auth=ADMIN).json()["job"]


def test_a_listed_origin_may_change_things(service, tmp_path):
    app, _ = make_app(service, tmp_path, admin_password=PASSWORD, admin_origins=["https://Tools.Example.org/"])
    client = TestClient(app, base_url="https://testserver")  # no lifespan: Gradio is not loaded
    listed = {"Origin": "https://tools.example.org", "Sec-Fetch-Site": "cross-site", **SCRIPT}
    response = client.put("/api/admin/files/assistant.yaml", auth=ADMIN, headers=listed, content=b"name: [x")
    assert response.status_code == 422  # past the origin check, refused for its YAML
    other = {**listed, "Origin": "https://tools.example.org.evil.example"}
    assert client.put("/api/admin/files/assistant.yaml", auth=ADMIN, headers=other, content=b"x").status_code == 403


def test_the_console_gate_refuses_other_sites_pages_even_with_a_session(console):
    assert login(console).status_code == 303
    forged = [
        {"Sec-Fetch-Site": "cross-site", "Referer": "https://testserver/admin/"},
        {"Origin": "https://testserver:8443", "Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example", "X-CSRF-Token": "guessed"},
    ]
    for headers in forged:
        response = console.post("/admin/gradio_api/queue/join", json={}, headers=headers)
        assert response.status_code == 403 and response.json()["error"]["code"] == "csrf_failed", headers
        upload = console.post("/admin/gradio_api/upload", files={"files": ("evil.md", HOSTILE)}, headers=headers)
        assert upload.status_code == 403, headers
    # the login form, sent from another site's page with a valid form token, is refused too
    console.cookies.clear()
    page = console.get("/admin/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    refused = console.post(
        "/admin/login",
        data={"password": PASSWORD, "csrf": token},
        headers={"Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert refused.status_code == 403 and "did not come from this site" in refused.text


def test_console_responses_are_never_stored(console):
    """Nothing a logged-in editor sees is kept by the browser or a proxy (Gradio's own script and
    style files, the same in every install, may be)."""
    wait_for_console(console)
    console.cookies.clear()
    anonymous = [
        console.get("/admin/login"),
        console.get("/admin/gradio_api/info"),
        console.get("/api/admin/documents"),
        console.get("/api/admin/documents", auth=("admin", "wrong")),
    ]
    assert login(console).status_code == 303
    page = console.get("/admin/", headers={"accept": "text/html"})
    assert page.status_code == 200 and "<html" in page.text.lower()
    responses = [
        *anonymous,
        page,
        console.get("/admin/config"),
        console.get("/admin/gradio_api/info"),
        console.get("/admin/export/unanswered.csv"),
        console.get("/api/admin/documents", auth=ADMIN),
        console.get("/api/admin/audit", auth=ADMIN),
        console.get("/api/admin/unanswered.csv", auth=ADMIN),
        console.get("/api/admin/files/assistant.yaml", auth=ADMIN),
        console.post("/api/admin/documents", auth=ADMIN, files={"file": ("x.md", b"# x")}),  # 403
    ]
    for response in responses:
        assert response.headers.get("cache-control") == "no-store", (response.url, response.status_code)
    asset = re.search(r"""["'](?:\./|/admin/)?(assets/[^"']+\.js)["']""", page.text)
    assert asset, page.text[:2000]
    script = console.get("/admin/" + asset.group(1))
    assert script.status_code == 200 and "no-store" not in script.headers.get("cache-control", "")
