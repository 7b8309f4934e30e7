"""The index in a real Chroma server (`chroma run` on a free 127.0.0.1 port), and that server going down."""

import logging
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.answering.answer import Status
from assistant.corpus.index import StoreUnavailable
from assistant.service import Service
from tests.conftest import make_settings

CHROMA = Path(sys.executable).parent / "chroma"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(tmp_path / "chroma"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    yield proc, port
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.skipif(shutil.which(str(CHROMA)) is None, reason="chroma CLI not installed")
def test_ingest_and_ask_through_a_chroma_server_then_it_goes_down(tmp_path, chroma_server, caplog, monkeypatch):
    monkeypatch.setattr("assistant.corpus.vector_store.CHECK_SECONDS", 0)  # the health check asks every time
    proc, port = chroma_server
    settings = make_settings(tmp_path, chroma_host="127.0.0.1", chroma_port=port)
    service = Service(settings)
    summary = service.ingest()
    assert summary.added == summary.chunks
    assert Service(settings).ingest().added == 0  # incremental against the server too
    assert service.ask("What is IASME Gold?").status is Status.ANSWERED

    proc.terminate()
    proc.wait(timeout=10)
    with caplog.at_level(logging.WARNING):
        answer = service.ask("Does it cost anything to qualify onto the Dynamic Framework?")
        # still a grounded answer, from the vectors read when the index was loaded; the health
        # check and the log say the store is down
        assert answer.status is Status.ANSWERED and "no cost" in answer.text
        up, detail = service.deps().retriever.store.check()
    assert not up and "answering from the vectors read before it went down" in detail
    assert "vector store is unavailable" in caplog.text

    with pytest.raises(StoreUnavailable):
        Service(settings).ingest()  # a clear message, and the local snapshot is untouched
    restarted = Service(settings)  # a restart while the server is down: answers from keyword search
    fresh = restarted.ask("What is IASME Gold?")
    assert fresh.status is Status.ANSWERED and "IASME Gold" in fresh.text
    assert str(port) not in fresh.text  # server details go to the log, not to the chat
    health = restarted.health()
    assert health["index"]["ok"] is True and health["vector_store"]["ok"] is False
    assert "keyword search only" in health["vector_store"]["detail"]
