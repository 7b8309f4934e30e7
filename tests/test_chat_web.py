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

from assistant.stores.feedback import REASONS
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


# ---- served like a product: HEAD, a favicon, gzip, caching under content-hashed names ----


def asset_urls(client) -> dict[str, str]:
    page = client.get("/").text
    return {url.split("?")[0]: url for url in re.findall(r'(?:src|href)="(/static/[^"]+)"', page)}


def test_head_answers_wherever_get_does(client, service):
    urls = asset_urls(client)
    document = sorted(service.indexed_documents())[0]
    for path in ["/", "/embed.js", "/favicon.ico", "/healthz", urls["/static/chat.js"], f"/documents/{document}"]:
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers.get("content-length") == got.headers.get("content-length"), path
    assert client.head("/no-such-page").status_code == 404


def test_a_favicon_on_every_page(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml") and b"<svg" in r.content
    parser = _Tags()
    parser.feed(client.get("/").text)
    icons = [a for t, a in parser.tags if t == "link" and a.get("rel") == "icon"]
    assert icons and client.get(icons[0]["href"]).status_code == 200
    templates = ROOT / "assistant" / "web" / "templates"
    for name in ("admin_login.html", "admin_starting.html"):  # the console's own pages
        assert '<link rel="icon" href="/favicon.ico"' in (templates / name).read_text(), name


def test_files_are_named_by_content_and_cached_for_good(client):
    urls = asset_urls(client)
    version = urls["/static/chat.js"].split("?v=")[1]
    assert all(url.endswith("?v=" + version) for url in urls.values())
    assert f"/static/chat.js?v={version}" in client.get("/embed.js").text  # the widget loads the same
    good = client.get(urls["/static/chat.js"])
    assert good.headers["cache-control"] == "public, max-age=31536000, immutable"
    for stale in ("/static/chat.js", "/static/chat.js?v=0ld"):  # a link without the current hash is checked
        r = client.get(stale)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-cache" and r.headers.get("etag")
    for path, policy in (("/", "no-cache"), ("/embed.js", "public, max-age=300")):
        r = client.get(path)
        assert r.headers["cache-control"] == policy and r.headers["etag"]
        again = client.get(path, headers={"if-none-match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""


def test_the_version_follows_every_file(tmp_path):
    from assistant.web.serving import content_version

    (tmp_path / "a.js").write_text("one")
    (tmp_path / "locales").mkdir()
    (tmp_path / "locales" / "cy.json").write_text("{}")
    before = content_version(tmp_path)
    assert content_version(tmp_path) == before
    (tmp_path / "locales" / "cy.json").write_text('{"x": 1}')
    assert content_version(tmp_path) != before


def test_text_is_gzipped(client):
    urls = asset_urls(client)
    for path in ["/", "/embed.js", urls["/static/chat.js"], urls["/static/chat.css"], "/static/locales/cy.json"]:
        r = client.get(path, headers={"accept-encoding": "gzip, br"})
        assert r.headers.get("content-encoding") == "gzip", path
        assert "accept-encoding" in r.headers.get("vary", "").lower(), path
    plain = client.get(urls["/static/chat.js"], headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers


def test_the_answer_stream_is_never_compressed_and_each_event_leaves_at_once(client):
    """Through the whole app, gzip included, at the ASGI level: every event is its own message to
    the server (sent as it is made), none compressed; a compressor would hold them back."""
    import asyncio

    body = json.dumps({"question": "What are the need categories?"}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/ask/stream",
        "raw_path": b"/api/ask/stream",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"accept-encoding", b"gzip, deflate, br"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict] = []

    async def run():
        delivered = False

        async def receive():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)  # the client stays connected

        async def send(message):
            sent.append(message)

        await client.app(scope, receive, send)

    asyncio.run(run())
    start = sent[0]
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    assert start["status"] == 200 and headers["content-type"].startswith("text/event-stream")
    assert "content-encoding" not in headers
    chunks = [m["body"] for m in sent[1:] if m.get("body")]
    texts = [c for c in chunks if c.startswith(b"event: text")]
    assert len(texts) >= 5 and all(c.count(b"\n\n") == 1 for c in chunks)  # one event a message
    assert chunks[-1].startswith(b"event: answer")


# ---- the Welsh interface ----

LOCALES = ROOT / "assistant" / "web" / "static" / "locales"


def _shape(value, path=""):
    if isinstance(value, dict):
        return {k: _shape(v, f"{path}.{k}") for k, v in value.items() if not k.startswith("_")}
    return type(value).__name__


def test_the_locales_say_the_same_things():
    en = json.loads((LOCALES / "en-GB.json").read_text(encoding="utf-8"))
    cy = json.loads((LOCALES / "cy.json").read_text(encoding="utf-8"))
    shape_en, shape_cy = _shape(en), _shape(cy)
    shape_en.pop("messages"), shape_cy.pop("messages"), shape_en.pop("errors"), shape_cy.pop("errors")
    assert shape_en == shape_cy  # every key, in both
    for key, text in en.items():
        if isinstance(text, str) and key not in ("answersInEnglish", "_about"):
            assert text.strip() and cy[key].strip(), key
            assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", cy[key])), key
    assert en["lang"] == "en-GB" and cy["lang"] == "cy" and en["switchTo"] == "cy" and cy["switchTo"] == "en-GB"
    assert len(cy["months"]) == 12 and cy["months"][2] == "Mawrth"
    # every canned message a person can meet has its Welsh, with only the places the chat can fill
    canned = {p.stem for p in (ROOT / "prompts").glob("*.md")} - {"llm_system", "llm_question", "answer_uncertain"}
    assert canned <= set(cy["messages"])
    places = {"scope", "help", "example", "length", "max_chars"}
    for name in canned:
        assert set(re.findall(r"\{(\w+)\}", cy["messages"][name])) <= places, name
    assert set(cy["reasons"]) == set(en["reasons"]) == set(REASONS)
    assert en["reasons"] == REASONS  # the English wording is the server's own


def test_a_question_in_welsh_is_told_in_welsh_and_english_to_ask_in_english(client):
    for question in ("Beth yw'r fframwaith deinamig?", "Sut ydw i'n cofrestru am grantiau prawf?"):
        data = client.post("/api/ask", json={"question": question}).json()
        assert data["status"] == "invalid_question" and data["message"] == "invalid_welsh", question
        welsh, english = data["answer"].split("\n\n")
        assert "Saesneg" in welsh and "Gofynnwch eich cwestiwn yn Saesneg" in welsh
        assert (
            english.startswith("Sorry: the guidance I draw on is in English")
            and "ask your question in English" in english
        )
    other = client.post("/api/ask", json={"question": "Quelle est la capitale de la France?"}).json()
    assert other["message"] == "invalid_not_english" and "Saesneg" not in other["answer"]
    declined = client.post("/api/ask", json={"question": "How much does Cyber Essentials Plus cost?"}).json()
    assert declined["message"] == "declined_not_covered"  # the chat shows its own wording of it
    assert client.post("/api/ask", json={"question": "What is IASME Gold?"}).json()["message"] == ""


def test_the_deployer_chooses_welsh(tmp_path, corpus_copy):
    from assistant.console.corpus import check_profile
    from assistant.service import Service

    yaml_file = corpus_copy / "assistant.yaml"
    yaml_file.write_text("language: cy\n" + yaml_file.read_text(encoding="utf-8"), encoding="utf-8")
    check_profile(yaml_file.read_text(encoding="utf-8"))  # the console accepts the file
    c = TestClient(create_app(service=Service(make_settings(tmp_path, corpus_copy))))
    parser = _Tags()
    page = c.get("/").text
    parser.feed(page)
    assert ("html", {"lang": "cy"}) in parser.tags
    assert "Neidio i'r blwch cwestiwn" in page and "Mae angen JavaScript" in page
    config = json.loads(next(a["data-config"] for t, a in parser.tags if t == "clinks-chat"))
    assert config["language"] == "cy" and config["title"] == "Ask about probation commissioning"  # theirs, as written
    embedded = json.loads(re.search(r"var CONFIG = (\{.*\});", c.get("/embed.js").text).group(1))
    assert embedded["language"] == "cy"
