"""Wiring: from settings to a ready-to-ask assistant (embedder, index, retriever, prompts).

Built once per process and reused; the web app and the command line both go through here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import lru_cache

from assistant.answer import Answer, Status, Turn
from assistant.decide import load_model
from assistant.deployer import load_profile
from assistant.embeddings import make_embedder
from assistant.glossary import Glossary
from assistant.index import IndexError_, IngestSummary, Manifest, ingest, open_client, open_store
from assistant.pipeline import Deps, run
from assistant.prompts import Prompts
from assistant.retrieve import Retriever
from assistant.settings import Settings
from assistant.unit_vectors import UnitVectors

log = logging.getLogger(__name__)


class Service:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.profile = load_profile(self.settings.deployer_path)
        self.prompts = Prompts(self.settings.prompts_dir, self.profile.values())
        self.glossary = Glossary.load(self.settings.glossary_path)
        self._embedder = None
        self._client = None
        self._deps: Deps | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder = make_embedder(
                self.settings.embedder, self.settings.model_name, models_dir=self.settings.models_dir
            )
        return self._embedder

    @property
    def client(self):
        if self._client is None:
            s = self.settings
            self._client = open_client(s.index_dir, s.chroma_host, s.chroma_port)
        return self._client

    def ingest(self, progress=None) -> IngestSummary:
        with self._lock:
            summary = ingest(self.settings.corpus_dir, self.settings.index_dir, self.embedder, self.client, progress)
            self._deps = None  # the next question sees the new index
            return summary

    def ensure_index(self) -> IngestSummary | None:
        """Ingest when there is no index yet, or it was built with another embedder."""
        manifest = Manifest.read(self.settings.index_dir)
        if manifest is None or manifest.embedder != self.embedder.name:
            return self.ingest()
        return None

    def deps(self) -> Deps:
        if self._deps is None:
            with self._lock:
                if self._deps is None:
                    self._deps = self._load()
        return self._deps

    def _load(self) -> Deps:
        manifest = Manifest.read(self.settings.index_dir)
        if manifest is None:
            raise IndexError_("The guidance has not been indexed yet: run `assistant ingest`.")
        if manifest.embedder != self.embedder.name:
            raise IndexError_(
                f"The index was built with the '{manifest.embedder}' embedder, but the assistant is set "
                f"to use '{self.embedder.name}'. Run `assistant ingest` to rebuild it."
            )
        store = open_store(self.client, manifest.collection, self.embedder)
        retriever = Retriever(manifest.chunks, store, self.embedder, self.glossary)
        documents = {c.title: c.url for c in manifest.chunks}  # in corpus order
        self.profile = load_profile(self.settings.deployer_path).with_document_defaults(list(documents))
        links = [url.split("#")[0] for url in documents.values() if url.startswith("http")]
        self.prompts.defaults = self.profile.values(list(dict.fromkeys(links)))
        units = UnitVectors.load(self.settings.index_dir, self.embedder)
        decision = load_model(self.embedder.name)
        deps = Deps(retriever, self.glossary, self.prompts, self.settings, units, decision)
        deps.documents = frozenset(c.doc_id for c in manifest.chunks)
        return deps

    def ask(self, question: str, history: Sequence[Turn] = ()) -> Answer:
        try:
            deps = self.deps()
        except IndexError_ as err:
            log.warning("Cannot answer: %s", err)
            return Answer(text=self.prompts.render("error", reason=err.user_message), status=Status.ERROR)
        return run(question, list(history), deps)

    def indexed_documents(self) -> frozenset[str]:
        """The names (paths within the corpus folder) of the documents in the index."""
        try:
            return self.deps().documents
        except IndexError_:
            return frozenset()

    @property
    def ready(self) -> bool:
        try:
            self.deps()
            return True
        except IndexError_:
            return False


@lru_cache(maxsize=4)
def _cached(settings_json: str) -> Service:
    return Service(Settings.model_validate_json(settings_json))


def default_service(settings: Settings | None = None) -> Service:
    """One service per distinct settings, so repeated `ask()` calls reuse the loaded index."""
    service = _cached((settings or Settings()).model_dump_json())
    service.ensure_index()
    return service
