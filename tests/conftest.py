"""Shared fixtures. Every test runs offline: a connection to anything but loopback fails."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by `make test`
ARTEFACTS = ROOT / "test-artifacts"  # screenshots and timings from the browser tests
_real_connect = socket.socket.connect


def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and host not in ("localhost",) and not host.startswith("/"):
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            raise OSError(f"tests may not resolve or reach {host!r}") from None
        if not ip.is_loopback:
            raise OSError(f"tests may not reach {host}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def no_network():
    socket.socket.connect = _loopback_only
    yield
    socket.socket.connect = _real_connect


@pytest.fixture(autouse=True, scope="session")
def repository_corpus_untouched():
    """Tests change copies of the corpus, never the repository's own (every other test reads it)."""
    before = {p.name: p.stat().st_mtime_ns for p in (ROOT / "corpus").iterdir()}
    yield
    after = {p.name: p.stat().st_mtime_ns for p in (ROOT / "corpus").iterdir()}
    assert after == before, f"a test changed the repository's corpus folder: {sorted(set(after) ^ set(before))}"


def make_settings(tmp: Path, corpus: Path | None = None, **overrides):
    from assistant.settings import Settings

    return Settings(
        data_dir=tmp / "data",
        corpus_dir=corpus or ROOT / "corpus",
        prompts_dir=ROOT / "prompts",
        embedder=overrides.pop("embedder", "hashing"),
        **overrides,
    )


@pytest.fixture(scope="session")
def service(tmp_path_factory):
    """The real assistant as deployed: the verified semantic model (installed by `make test`)
    over the real corpus, indexed once into a temporary folder."""
    from assistant.service import Service

    svc = Service(make_settings(tmp_path_factory.mktemp("svc"), embedder="auto"))
    svc.ingest()
    return svc


@pytest.fixture(scope="session")
def hashing_service(tmp_path_factory):
    """The assistant on its fallback embedder, as on a server where the model cannot be fetched."""
    from assistant.service import Service

    svc = Service(make_settings(tmp_path_factory.mktemp("svc-hashing"), embedder="hashing"))
    svc.ingest()
    return svc


@pytest.fixture
def corpus_copy(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("probation-services.md", "glossary.yaml", "assistant.yaml"):
        shutil.copy(ROOT / "corpus" / name, folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny sentence-transformers model built here (random weights): it tests loading and
    encoding through the real code path, not quality."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizer

    base = tmp_path_factory.mktemp("tiny")
    raw = base / "bert"
    raw.mkdir()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(
        set(
            "the a of to is on cyber essentials plus iasme gold dynamic framework qualify cost grants "
            "portal jaggaer probation call off market warming renew every year no".split()
        )
    )
    (raw / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    BertTokenizer(vocab=str(raw / "vocab.txt")).save_pretrained(raw)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    BertModel(config).save_pretrained(raw)
    model = SentenceTransformer(modules=[Transformer(str(raw)), Pooling(32)])
    out = base / "model"
    model.save(str(out), create_model_card=False)
    return out


@pytest.fixture(scope="session")
def pg_cluster():
    """A real PostgreSQL server on 127.0.0.1 for the session (skipped, saying why, without Debian's
    postgresql package)."""
    from tests.pg_cluster import Cluster

    cluster = Cluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """Each store test runs on both databases: SQLite in a temporary folder, and a new database in
    the session's PostgreSQL cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'feedback.sqlite3'}"
    cluster = request.getfixturevalue("pg_cluster")
    return cluster.new_database(f"t{abs(hash(request.node.nodeid)) % 10**10}_{os.getpid()}")


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright, for the chat's and the console's browser tests."""
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield b
        b.close()
