"""Documents built to exhaust the server: a Word file that unpacks to hundreds of MB, a PDF whose
pages take minutes to parse. Refused with a plain message, through the real server, whose memory
stays bounded (its RSS read from /proc while it works), with nothing left in the temporary folder
or the corpus."""

from __future__ import annotations

import io
import shutil
import threading
import time
import zipfile

import pytest

from assistant.corpus.documents import UnreadableDocument
from tests.bombs import docx_bomb, pdf_bomb
from tests.conftest import ROOT
from tests.servers import App, assistant_env, run_cli

PASSWORD = "a long console passphrase"
ADMIN = ("admin", PASSWORD)
RSS_LIMIT_MB = 900  # the server answering with the hashing embedder uses about 250 MB
SCRIPT = {"X-Requested-With": "clinks-console"}  # every /api/admin/ change sends it (test_console.py)


@pytest.fixture(scope="module")
def bomb_docx() -> bytes:
    return docx_bomb(400)  # about 1.4 MB on disk


def rss_mb(pid: int) -> float:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Watch:
    """The server's largest RSS while a request runs; past the limit the server is stopped (so a
    server that would grow to gigabytes cannot take the machine with it) and the test fails."""

    def __init__(self, app: App, limit_mb: float) -> None:
        self.app, self.limit, self.peak, self.killed = app, limit_mb, 0.0, False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_mb(self.app.proc.pid))
            if self.peak > self.limit:
                self.killed = True
                self.app.proc.kill()
                return

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def console_app(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("probation-services.md", "glossary.yaml", "assistant.yaml"):
        shutil.copy(ROOT / "corpus" / name, corpus)
    temp = tmp_path / "temp"
    temp.mkdir()
    env = assistant_env(
        tmp_path / "data",
        embedder="hashing",
        corpus_dir=str(corpus),
        admin_password=PASSWORD,
        rate_limit="",
        parse_seconds="10",
    )
    env["TMPDIR"] = str(temp)
    assert run_cli(env, "ingest").returncode == 0
    app = App(env, log=tmp_path / "app.log").wait_ready()
    app.corpus, app.temp = corpus, temp
    yield app
    app.stop()


def upload(app, name, data, watch_mb=RSS_LIMIT_MB):
    with Watch(app, watch_mb) as watch:
        try:
            response = app.http.post("/api/admin/documents", auth=ADMIN, headers=SCRIPT, files={"file": (name, data)}, timeout=60)
        except Exception as err:  # the server was stopped by the watch, or took too long
            response = err
    assert not watch.killed, f"the server grew past {watch_mb} MB reading {name}"
    assert not isinstance(response, Exception), f"no answer for {name}: {response!r}"
    return response, watch.peak


def test_a_zip_bomb_word_file_is_refused_with_memory_bounded_and_nothing_left(console_app, bomb_docx):
    app = console_app
    before = sorted(p.name for p in app.corpus.iterdir())
    started = time.time()
    response, peak = upload(app, "expenses.docx", bomb_docx)
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "'expenses.docx' cannot be used: it unpacks to 40" in message and "ASSISTANT_MAX_UNPACKED_MB" in message
    assert time.time() - started < 20 and peak < RSS_LIMIT_MB
    assert sorted(p.name for p in app.corpus.iterdir()) == before
    assert list(app.temp.iterdir()) == []
    # and the server still answers, and takes a good Word file
    import docx

    good = io.BytesIO()
    d = docx.Document()
    d.core_properties.title = "Expenses"
    d.add_heading("Mileage", level=1)
    d.add_paragraph("Volunteers can claim mileage at 45p per mile for journeys to the visitor centre.")
    d.save(good)
    ok, _ = upload(app, "expenses.docx", good.getvalue())
    assert ok.status_code == 202, ok.text
    assert list(app.temp.iterdir()) == []
    assert "Traceback" not in app.log()


def test_a_pdf_that_takes_minutes_to_parse_is_refused_within_its_time(console_app):
    app = console_app
    before = sorted(p.name for p in app.corpus.iterdir())
    started = time.time()
    response, _ = upload(app, "leaflet.pdf", pdf_bomb(10, pages=40))  # 40 pages x 1.7 million operators
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "took more than 10 seconds to read" in message and "ASSISTANT_PARSE_SECONDS" in message
    assert time.time() - started < 30
    assert sorted(p.name for p in app.corpus.iterdir()) == before
    assert list(app.temp.iterdir()) == []


def test_a_zip_whose_table_of_contents_lies_is_still_bounded():
    """The central directory says each part is small; the parts really unpack to far more. What is
    read is bounded by what was declared (the part fails its checksum), never by what is in it."""
    from assistant.corpus.documents import read_document

    raw = bytearray(docx_bomb(60))
    real = zipfile.ZipFile(io.BytesIO(bytes(raw))).getinfo("word/document.xml")
    declared = real.file_size.to_bytes(8, "little")
    # ZIP64 keeps the true size in an extra field: write a small one there and in the headers.
    lie = (2_000_000).to_bytes(8, "little")
    raw = bytearray(bytes(raw).replace(declared, lie))
    with pytest.raises(UnreadableDocument):
        read_document(bytes(raw), "lying.docx", "lying.docx")


def test_the_budget_is_checked_in_the_corpus_too(tmp_path, bomb_docx):
    from assistant.corpus.documents import load_corpus
    from assistant.corpus.sandbox import ParseBudget

    (tmp_path / "bomb.docx").write_bytes(bomb_docx)
    (tmp_path / "fine.md").write_text("# Fine\n\nA fine document about grants.\n")
    result = load_corpus(tmp_path, budget=ParseBudget(max_unpacked=50_000_000))
    assert [d.doc_id for d in result.documents] == ["fine.md"]
    assert "it unpacks to 40" in dict(result.skipped)["bomb.docx"]


def test_a_parse_that_needs_too_much_memory_is_stopped(tmp_path):
    """A file within the unpacking limit can still need more memory than allowed: the parser, in its
    child process, is stopped, and says so."""
    from assistant.corpus.documents import read_document
    from assistant.corpus.sandbox import ParseBudget

    raw = docx_bomb(40, numbered=True)  # under the unpacking limit, and packed as a real file could be
    assert len(raw) < 5_000_000
    budget = ParseBudget(memory_bytes=160 * 2**20, seconds=60)
    started = time.time()
    with pytest.raises(UnreadableDocument, match="needed more than the 160 MB of memory allowed"):
        read_document(raw, "big.docx", "big.docx", budget)
    assert time.time() - started < 60
