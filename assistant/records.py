"""What the web app notes after each answer, for the staff console, without making anyone wait.

- Counts: answered and declined per week (numbers only), added up in memory and written every few
  seconds.
- Kept questions (unless `ASSISTANT_KEEP_QUESTIONS=false`): a declined question is redacted
  (`redact.py`), embedded for grouping by meaning, and written to `stores/kept.py`.
- Recent answers: a thumbs down names only the answer id, so to keep the question it was about,
  each answer's redacted question, its redacted text and its sources are held **in this process's
  memory only**, for `RECENT_SECONDS` (an hour) and at most `RECENT_MAX` answers, oldest dropped
  first. Nothing of an answered question reaches the disk unless its answer gets a thumbs down
  within that hour. With several worker processes, a thumbs down that reaches another process than
  the one that answered is still counted, but its question is not kept (said in the README).

All writing happens on one background thread per process: answering never waits for the database,
and a database that is down costs only what would have been written (logged, never raised).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from assistant.answer import Answer, Status
from assistant.redact import Redacted, redact
from assistant.stores.counts import AnswerCounts, week_of
from assistant.stores.database import Database
from assistant.stores.kept import KeptQuestions

log = logging.getLogger(__name__)

RECENT_SECONDS = 3600
RECENT_MAX = 5000
FLUSH_SECONDS = 2.0
PURGE_SECONDS = 3600.0
QUEUE_MAX = 10000
MAX_TEXT = 4000  # characters of a question or an answer that are redacted and kept
DECLINED = (Status.DECLINED_NOT_COVERED, Status.DECLINED_OUT_OF_SCOPE)


@dataclass
class RecentAnswer:
    at: float
    status: str
    question: Redacted | None  # None when questions are not kept
    text: str  # the answer, redacted (a written answer may repeat what was asked)
    sources: list[str]
    kept_id: int | None = None  # its row in kept questions, once kept


class RecentAnswers:
    """answer id -> RecentAnswer, for an hour at most, in memory only."""

    def __init__(self, seconds: float = RECENT_SECONDS, size: int = RECENT_MAX) -> None:
        self.seconds, self.size = seconds, size
        self._items: OrderedDict[str, RecentAnswer] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, answer_id: str, item: RecentAnswer) -> None:
        with self._lock:
            self._items[answer_id] = item
            self._items.move_to_end(answer_id)
            self._expire(item.at)

    def get(self, answer_id: str) -> RecentAnswer | None:
        now = time.time()
        with self._lock:
            self._expire(now)
            item = self._items.get(answer_id)
        return item if item is not None and now - item.at < self.seconds else None

    def _expire(self, now: float) -> None:
        while self._items:
            oldest = next(iter(self._items.values()))
            if len(self._items) <= self.size and now - oldest.at < self.seconds:
                break
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class Recorder:
    def __init__(
        self,
        db: Database,
        keep_questions: bool,
        keep_days: int,
        embed: Callable[[str], list[float]] | None = None,
        embedder_name: Callable[[], str] | None = None,
    ) -> None:
        self.keep_questions = keep_questions
        self.kept = KeptQuestions(db, keep_days)
        self.counts = AnswerCounts(db)
        self.recent = RecentAnswers()
        self._embed = embed
        self._embedder_name = embedder_name
        self._pending: Counter = Counter()
        self._jobs: queue.Queue = queue.Queue(maxsize=QUEUE_MAX)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._last_flush = self._last_purge = 0.0

    def start(self) -> None:
        """Load what the first record needs (the database's schema, the name lists) now, in the
        background, so that the first questions do not share the processor with it."""

        def warm_up() -> None:
            self.kept.db.migrate()
            redact("Sarah Jones, 07700 900123, SW1A 1AA")

        self._submit(warm_up)

    # ---- called on the request path: quick, never raises
    def answered(self, question: str, answer: Answer) -> None:
        self._submit(lambda: self._note_answer(question, answer, time.time()))

    def thumbs(self, answer_id: str, helpful: bool, reason: str | None) -> RecentAnswer | None:
        """The recent answer a verdict is about (for its text and sources), and, after a thumbs
        down, its question kept (in the background)."""
        item = self.recent.get(answer_id)
        if item is None:  # the answer may still be on its way through the queue: let it through
            self.flush(timeout=1)
            item = self.recent.get(answer_id)
        if item is not None and not helpful and self.keep_questions and item.question is not None:
            self._submit(lambda: self._keep_thumbs_down(item, reason))
        return item

    def flush(self, timeout: float = 10) -> None:
        """Wait until everything submitted so far is written (the console reads after this)."""
        done = threading.Event()

        def write_then_tell() -> None:
            try:
                self._write_counts()
            finally:
                done.set()

        self._submit(write_then_tell)
        done.wait(timeout)

    # ---- the background thread
    def _submit(self, job: Callable[[], None]) -> None:
        self._ensure_thread()
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            log.warning("The records queue is full; a record was dropped")

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._start_lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="records", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=FLUSH_SECONDS)
            except queue.Empty:
                job = None
            try:
                if job is not None:
                    job()
                now = time.monotonic()
                if now - self._last_flush >= FLUSH_SECONDS:
                    self._write_counts()
                if now - self._last_purge >= PURGE_SECONDS:
                    self._last_purge = now
                    removed = self.kept.purge()
                    if removed:
                        log.info("Deleted %d kept questions older than %d days", removed, self.kept.keep_days)
            except Exception as err:  # a database that is down: this record is lost, answering goes on
                log.warning("Could not write a record (%s: %s)", type(err).__name__, err)

    def _note_answer(self, question: str, answer: Answer, at: float) -> None:
        declined = answer.status in DECLINED
        if not (answer.status is Status.ANSWERED or declined):
            return  # an empty, too long or unreadable question, or an error: nothing to count or keep
        self._pending[(week_of(at), "declined" if declined else "answered")] += 1
        if not answer.answer_id:
            return
        # Bounded work: an answered or declined question is short (ASSISTANT_MAX_QUESTION_CHARS).
        redacted = redact(question[:MAX_TEXT]) if self.keep_questions else None
        sources = [f"{c.title}: {c.section}" if c.section else c.title for c in answer.citations]
        item = RecentAnswer(at, answer.status.value, redacted, redact(answer.text[:MAX_TEXT]).text, sources)
        self.recent.put(answer.answer_id, item)
        if declined and redacted is not None:
            item.kept_id = self._keep(redacted, "declined", answer.status.value, None, at)

    def _keep_thumbs_down(self, item: RecentAnswer, reason: str | None) -> None:
        if item.kept_id is not None:  # already kept (declined, or an earlier thumbs down): add the reason
            if reason:
                self.kept.set_reason(item.kept_id, reason)
            return
        item.kept_id = self._keep(item.question, "thumbs_down", item.status, reason, time.time())

    def _keep(self, question: Redacted, kind: str, status: str, reason: str | None, at: float) -> int:
        vector, name = None, None
        if self._embed is not None and question.text.strip():
            try:
                vector, name = self._embed(question.text), self._embedder_name()
            except Exception as err:  # grouped later, when the console re-embeds it
                log.warning("Could not embed a kept question (%s)", type(err).__name__)
        return self.kept.add(question, kind, status, reason=reason, embedder=name, vector=vector, at=at)

    def _write_counts(self) -> None:
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        pending, self._pending = self._pending, Counter()
        try:
            self.counts.add(dict(pending))
        except Exception:
            self._pending.update(pending)  # try again at the next flush
            raise
