"""Wiring: from settings to a ready-to-ask assistant (embedder, index, retriever, prompts).

Built once per process and reused; the web app and the command line both go through here. Keeping
the index in step with the corpus (ingest, and with several machines publish and pull) is
`corpus/keeper.py`; this module loads the index it keeps and swaps in a new one when it changes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache

from assistant.answering.answer import Answer, Status, Turn
from assistant.answering.answer_ids import AnswerIds, load_key
from assistant.answering.decide import load_model
from assistant.answering.pipeline import Deps, run
from assistant.answering.prompts import Prompts
from assistant.answering.retrieve import Retriever
from assistant.answering.spelling import Speller
from assistant.corpus.deployer import load_profile
from assistant.corpus.embeddings import embedder_for
from assistant.corpus.glossary import Glossary
from assistant.corpus.index import MANIFEST, IndexError_, IngestSummary, Manifest, open_client, open_store
from assistant.corpus.keeper import IndexKeeper
from assistant.corpus.reader_files import ReaderStatus
from assistant.corpus.unit_vectors import UnitVectors
from assistant.corpus.vector_store import VectorStore
from assistant.settings import Settings
from assistant.text import words

log = logging.getLogger(__name__)

WATCH_SECONDS = 1.0  # how often a running server looks for a new index


class Service:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.profile = load_profile(self.settings.deployer_path)
        self.prompts = Prompts(self.settings.prompts_dir, self.profile.values())
        self.glossary = Glossary.load(self.settings.glossary_path)
        self._embedder = None
        self.reader_status = ReaderStatus(False, "not loaded yet")
        self._client = None
        self._deps: Deps | None = None
        self._lock = threading.Lock()
        self._stamp: tuple | None = None  # the manifest's inode, mtime and size when loaded
        self._checked = 0.0
        self._reloading = False
        self._reload_lock = threading.Lock()
        self.answer_ids = AnswerIds(load_key(self.settings.answer_id_key, self.settings.data_dir))
        self.keeper = IndexKeeper(self.settings, lambda: self.embedder, lambda: self.client)
        self._following = False

    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder, self.reader_status = embedder_for(self.settings)
        return self._embedder

    @property
    def client(self):
        if self._client is None:
            s = self.settings
            self._client = open_client(s.index_dir, s.chroma_host, s.chroma_port)
        return self._client

    def reopen_store(self) -> None:
        """Forget the local Chroma store's open connection (after a write failed on a full or
        read-only disk, its SQLite may be left mid-transaction): the next use opens it afresh."""
        if self.settings.chroma_host:
            return  # a Chroma server keeps its own state
        self._client = None
        try:
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
        except Exception as err:  # never worse than before
            log.warning("The index store could not be reopened (%s)", type(err).__name__)

    @property
    def shared(self):
        """The index shared with other machines (stores/shared_index.py), or None."""
        return self.keeper.shared

    def ingest(self, progress=None, locked: bool = False, force: bool = False) -> IngestSummary:
        """Index the corpus folder (only what changed): see `IndexKeeper.ingest`. The next question
        is answered from the new index."""
        summary = self.keeper.ingest(progress, locked, force)
        self._deps = None
        return summary

    def pull(self) -> bool:
        """Bring this machine's folders to the newest shared version; True when anything changed."""
        return self.keeper.pull()

    def ensure_index(self) -> IngestSummary | None:
        """Ingest when there is no usable index yet (taking the shared one first, when there is one)."""
        summary = self.keeper.ensure()
        if summary is not None:
            self._deps = None
        return summary

    def deps(self) -> Deps:
        if self._deps is None:
            with self._lock:
                if self._deps is None:
                    stamp = self._manifest_stamp()
                    self._deps = self._load()
                    self._stamp = stamp
                    self._follow()
        else:
            self._watch()
        return self._deps

    def _follow(self) -> None:
        """With a shared index, a thread of this process looks for a newly published version every
        WATCH_SECONDS, pulls it, and swaps the new index in before the next question."""
        if self.shared is None or self._following:
            return
        self._following = True
        threading.Thread(target=self._follow_loop, name="index-follower", daemon=True).start()

    def _follow_loop(self) -> None:
        failing = False
        while True:
            time.sleep(WATCH_SECONDS)
            try:
                if self.shared.latest_version() not in ("", self.shared.local_version()):
                    self.pull()
                stamp = self._claim_reload()
                if stamp is not None:
                    self._reload(stamp)  # in this thread: the new index is in before the next question
                if failing:
                    log.info("The shared index can be read again.")
                failing = False
            except Exception as err:  # the database down: keep answering from the index loaded
                if not failing:
                    log.warning("%s Answering from the version loaded until it can be read.", err)
                failing = True

    def _manifest_stamp(self) -> tuple | None:
        try:
            st = (self.settings.index_dir / MANIFEST).stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _watch(self) -> None:
        """Pick up an `assistant ingest` run by another process, without a restart. The manifest is
        replaced atomically at the end of an ingest, so a new stamp means a complete new index. It
        is looked at once a second at most, and loaded in the background: the old index answers
        until the new one is ready, then the new one is swapped in whole."""
        now = time.monotonic()
        if now - self._checked < WATCH_SECONDS or self._reloading:
            return
        self._checked = now
        stamp = self._claim_reload()
        if stamp is not None:
            threading.Thread(target=self._reload, args=(stamp,), name="index-reload", daemon=True).start()

    def _claim_reload(self) -> tuple | None:
        """The new manifest's stamp when the index changed on disk and no reload is under way; the
        caller then reloads (`_reload` ends the claim). One claim at a time, whoever asks."""
        with self._reload_lock:
            stamp = self._manifest_stamp()
            if stamp is None or stamp == self._stamp or self._reloading:
                return None
            self._reloading = True
            return stamp

    def _reload(self, stamp: tuple) -> None:
        try:
            if not self.settings.chroma_host:
                self._reopen_local_store()
            deps = self._load()
            self._deps = deps
            log.info("The index changed on disk: now answering from version %s.", deps.version or "?")
        except Exception as err:  # a half-written or foreign index: keep answering from the old one
            log.warning("The index changed on disk but could not be loaded (%s); still using the previous one.", err)
        finally:
            self._stamp = stamp
            self._reloading = False

    def _load(self) -> Deps:
        manifest = Manifest.read(self.settings.index_dir)
        if manifest is None:
            raise IndexError_("The guidance has not been indexed yet: run `assistant ingest`.")
        if manifest.embedder != self.embedder.name:
            raise IndexError_(
                f"The index was built with the '{manifest.embedder}' embedder, but the assistant is set "
                f"to use '{self.embedder.name}'. Run `assistant ingest` to rebuild it."
            )
        self.glossary = Glossary.load(self.settings.glossary_path)  # it may have been edited in the console
        store = VectorStore(
            lambda: open_store(self.client, manifest.collection, self.embedder), (c.chunk_id for c in manifest.chunks)
        )
        store.check()  # read the vectors now, so that the first question does not wait for them
        retriever = Retriever(manifest.chunks, store, self.embedder, self.glossary)
        documents = {c.title: c.url for c in manifest.chunks}  # in corpus order
        self.profile = load_profile(self.settings.deployer_path).with_document_defaults(list(documents))
        links = [url.split("#")[0] for url in documents.values() if url.startswith("http")]
        self.prompts.defaults = self.profile.values(list(dict.fromkeys(links)))
        units = UnitVectors.load(self.settings.index_dir, self.embedder)
        decision = load_model(self.embedder.name)
        speller = Speller(w for chunk in manifest.chunks for w in words(chunk.text))
        llm = self._language_model(units)
        deps = Deps(retriever, self.glossary, self.prompts, self.settings, units, decision, speller, llm)
        deps.documents = frozenset(c.doc_id for c in manifest.chunks)
        deps.version = manifest.version
        return deps

    def _language_model(self, units: UnitVectors):
        """The optional model that writes answers (ASSISTANT_LLM_PROVIDER), or None: quotes only.
        A model that cannot be set up is said once in the log; the assistant still answers."""
        if not self.settings.llm_provider:
            return None
        from assistant.llm.models import ModelUnavailable
        from assistant.llm.stage import make_writer

        try:
            writer = make_writer(self.settings, self.prompts, self.embedder, units)
        except ModelUnavailable as err:
            log.warning("%s Answers quote the guidance until this is fixed.", err)
            return None
        log.info("Answers are written by %s, every sentence checked; quoting is the fallback.", writer.name)
        return writer

    def ask(self, question: str, history: Sequence[Turn] = (), on_piece: Callable[[str], None] | None = None) -> Answer:
        try:
            deps = self.deps()
        except IndexError_ as err:
            log.warning("Cannot answer: %s", err)
            return Answer(text=self.prompts.render("error", reason=err.user_message), status=Status.ERROR)
        answer = run(question, list(history), deps, on_piece)
        answer.answer_id = self.answer_ids.new()  # signed: feedback names an answer really given
        return answer

    def ask_stream(self, question: str, history: Sequence[Turn] = ()) -> Iterator[str | Answer]:
        """The answer as it is written: pieces of text, then the whole `Answer`, last.

        With a language model, each piece is a sentence that has passed every check, sent as soon
        as it passes; otherwise the answer's text comes as one piece. Either way the pieces joined
        are exactly the final answer's text, so what was shown never has to be taken back.
        """
        try:
            streaming = self.deps().llm is not None
        except IndexError_:
            streaming = False
        if not streaming:
            answer = self.ask(question, history)
            yield answer.text
            yield answer
            return
        pieces: queue.Queue = queue.Queue()
        finished = object()
        result: list[Answer] = []

        def work() -> None:
            try:
                result.append(self.ask(question, history, on_piece=pieces.put))
            finally:
                pieces.put(finished)

        # The answer path ends within the model's time limit, so this thread always finishes.
        threading.Thread(target=work, name="ask-stream", daemon=True).start()
        shown = False
        while (piece := pieces.get()) is not finished:
            shown = True
            yield piece
        answer = result[0] if result else self._failed()
        if not shown:
            yield answer.text
        yield answer

    def _failed(self) -> Answer:
        reason = "Something went wrong on our side; please try again in a moment."
        return Answer(text=self.prompts.render("error", reason=reason), status=Status.ERROR)

    def _reopen_local_store(self) -> None:
        """Chroma's local store keeps what it has read in memory and does not see what another
        process wrote: a new index needs a new client. The few questions in flight meanwhile are
        answered by keyword search."""
        old, self._client = self._client, None
        if old is not None:
            try:
                old.close()
            except Exception as err:  # already closed: nothing to release
                log.debug("Closing the old Chroma client: %s", err)

    def health(self) -> dict[str, dict]:
        """Each part the answers depend on: the index snapshot and the vector store."""
        try:
            deps = self.deps()
        except IndexError_ as err:
            return {
                "index": {"ok": False, "detail": err.user_message},
                "vector_store": {"ok": False, "detail": "no index to search"},
            }
        chunks = deps.retriever.chunks
        index = {"ok": True, "version": deps.version, "documents": len(deps.documents), "passages": len(chunks)}
        up, detail = deps.retriever.store.check()
        where = f"Chroma server {self.settings.chroma_host}" if self.settings.chroma_host else "local Chroma store"
        store = {"ok": up, "detail": detail if up else f"{where} {detail}"}  # says how it answers meanwhile
        reader = self.reader_status
        parts = {"index": index, "vector_store": store, "reader": {"ok": reader.ok, "detail": reader.detail}}
        if self.shared is not None:
            parts["shared_index"] = self._shared_health(deps.version)
        return parts

    def _shared_health(self, loaded: str) -> dict:
        """Is this process on the newest published index? (It keeps answering either way.)"""
        try:
            newest = self.shared.latest_version()
        except Exception as err:  # the database down: answers come from the version loaded
            log.debug("The shared index cannot be read: %s", err)
            return {"ok": False, "detail": f"the database cannot be read; answering from version {loaded}"}
        if newest and newest != loaded:
            return {"ok": True, "detail": f"loading version {newest} (answering from {loaded} meanwhile)"}
        return {"ok": True, "detail": f"answering from the newest version, {loaded}"}

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
    service = _cached((settings or Settings()).model_dump_json(context={"reveal_secrets": True}))
    service.ensure_index()
    return service
