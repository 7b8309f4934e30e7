"""The public chat's routes: the page, its files, the widget loader and the streamed answer, through
a real FastAPI test client (the browser tests drive the same page in Chromium)."""

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from assistant.web.app import create_app
from assistant.web.chat import pieces
from tests.conftest import ROOT, make_settings

BUDGET_BYTES = 60 * 1024


@pytest.fixture(scope="module")
def client(service):
    # No rate limit here: these tests ask quickly, one after another (tests/test_guard.py checks it).
    return TestClient(create_app(settings=service.settings.model_copy(update={"rate_limit": ""}), service=service))


def events(response) -> list[tuple[str, object]]:
    """The (event, data) pairs of a text/event-stream body."""
    out = []
    for block in response.text.replace("\r\n", "\n").split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        name = next((line[6:].strip() for line in lines if line.startswith("event:")), "message")
        data = "\n".join(line[5:].removeprefix(" ") for line in lines if line.startswith("data:"))
        out.append((name, json.loads(data)))
    return out


def comparable(answer: dict) -> dict:
    """An answer without what differs on every call (its id and how long it took)."""
    return {k: v for k, v in answer.items() if k not in ("answer_id", "timings_ms")}


@pytest.mark.parametrize(
    "body",
    [
        {"question": "What is IASME Gold?"},
        {
            "question": "how often does it need renewing?",
            "history": [
                {"role": "user", "content": "what is IASME Gold?"},
                {"role": "assistant", "content": "IASME Gold is..."},
            ],
        },
        {"question": "What is the capital of France?"},
    ],
)
def test_stream_sends_the_text_then_exactly_the_ask_json(client, body):
    r = client.post("/api/ask/stream", json=body)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    got = events(r)
    names = [name for name, _ in got]
    assert names[-1] == "answer" and names.count("answer") == 1
    assert set(names[:-1]) == {"text"} and len(names) >= 2
    final = got[-1][1]
    assert "".join(data for name, data in got[:-1]) == final["answer"]  # the pieces are the answer, in order
    plain = client.post("/api/ask", json=body).json()
    assert set(final) == set(plain) and comparable(final) == comparable(plain)
    assert len(final["answer_id"]) == 48  # signed (answer_ids.py)


@pytest.mark.parametrize(
    "body",
    [{}, {"question": 5}, {"question": "x", "history": [{"role": "robot", "content": "x"}]}, {"question": "x" * 20001}],
)
def test_stream_refuses_bad_input_exactly_as_ask_does(client, body):
    streamed = client.post("/api/ask/stream", json=body)
    plain = client.post("/api/ask", json=body)
    assert streamed.status_code == plain.status_code == 422
    assert streamed.json() == plain.json() and "error" in streamed.json()


def test_pieces_join_back_to_the_text():
    for text in [
        "",
        "one",
        "  lead and trail  ",
        "**Bold**: a [1]\n\n- item one\n  - child [2]\n- two",
        "a b c d e f g h i",
    ]:
        assert "".join(pieces(text)) == text
    assert len(pieces("a b c d e f g h i", words=4)) == 3


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_the_page_is_british_and_runs_under_a_strict_content_security_policy(client, service):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'self'" in csp
    parser = _Tags()
    parser.feed(r.text)
    tags = parser.tags
    assert ("html", {"lang": "en-GB"}) in tags
    # nothing inline: every script is a file, no style element or attribute, no event handler attribute
    assert all(attrs.get("src") for tag, attrs in tags if tag == "script")
    assert not any(tag == "style" for tag, _ in tags)
    assert not any(name == "style" or name.startswith("on") for _, attrs in tags for name in attrs)
    config = json.loads(next(attrs["data-config"] for tag, attrs in tags if tag == "clinks-chat"))
    assert config["starters"] == list(service.profile.starter_questions)
    assert config["maxChars"] == service.settings.max_question_chars
    assert config["title"] == service.profile.title and config["scope"] == service.profile.scope


def test_the_pages_own_files_stay_within_budget_and_ask_nothing_of_other_hosts(client):
    page = client.get("/").text
    files = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert {"/static/chat.js", "/static/chat.css", "/static/page.css"} <= {f.split("?")[0] for f in files}
    files.append("/static/locales/en-GB.json")  # the script asks for its strings
    total = len(page.encode())
    for path in set(files):
        r = client.get(path)
        assert r.status_code == 200, path
        total += len(r.content)
        # only the app's own paths: the one absolute URL allowed is the SVG namespace, never fetched
        others = set(re.findall(r"https?://[^\s\"')]+", r.text)) - {"http://www.w3.org/2000/svg"}
        assert others == set(), path
    assert total <= BUDGET_BYTES, f"{total} bytes"
    script = client.get("/static/chat.js").text
    assert ".innerHTML" not in script and "insertAdjacentHTML" not in script and "eval(" not in script


def test_the_old_gradio_address_sends_people_to_the_new_page(client):
    for old in ("/chat", "/chat/", "/chat/?__theme=dark"):
        r = client.get(old, follow_redirects=False)
        assert r.status_code == 301 and r.headers["location"] == "/"


def test_deployer_text_cannot_break_out_of_the_page_or_the_loader(tmp_path, corpus_copy):
    (corpus_copy / "assistant.yaml").write_text(
        'title: "Ask us </script><script>alert(1)</script>"\nscope: "x\\" onmouseover=\\"alert(2)"\n', encoding="utf-8"
    )
    from assistant.service import Service

    c = TestClient(create_app(service=Service(make_settings(tmp_path, corpus_copy))))
    script = c.get("/embed.js").text
    filled = re.search(r"var CONFIG = (\{.*\});", script).group(1)
    assert "<" not in filled  # no way to close the script element early
    config = json.loads(filled)
    assert config["title"] == "Ask us </script><script>alert(1)</script>"
    page = c.get("/").text
    assert "<script>alert" not in page and 'onmouseover="' not in page
    parser = _Tags()
    parser.feed(page)
    attrs = next(a for t, a in parser.tags if t == "clinks-chat")
    assert json.loads(attrs["data-config"])["scope"] == 'x" onmouseover="alert(2)'


def test_the_public_app_never_imports_gradio(tmp_path):
    code = (
        "import sys, time; t = time.time()\n"
        "from assistant.settings import Settings\nfrom assistant.web.app import create_app\n"
        f"create_app(Settings(data_dir={str(tmp_path)!r}, embedder='hashing'))\n"
        "print('gradio' in sys.modules, round(time.time() - t, 2))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120, env=os.environ
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[0] == "False"
