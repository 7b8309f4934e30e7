"""What the web app notes after each answer, for the staff console, without making anyone wait.

- Counts: answered and declined per week (numbers only), added up in memory and written every few
  seconds.
- Kept questions (unless `ASSISTANT_KEEP_QUESTIONS=false`): a declined question is redacted
  (`redact.py`) and written to `stores/kept.py`. It is not embedded here: the console embeds the
  questions it groups by meaning when it first shows them (`console/gaps.py`), in one batch, so a
  server answering people never spends an encoding on it (it was a tenth of its CPU under load).
- Recent answers: a thumbs down names only the answer id, so to keep the question it was about,
  each answer's redacted question (none when questions are not kept), its redacted text and its
  sources are written to the records database (`stores/recent.py`), shared by every worker process
  and machine, and deleted an hour (`RECENT_SECONDS`) after the answer. Nothing of an answered
  question stays on disk beyond that hour unless its answer gets a thumbs down within it. A thumbs
  down that arrives before its answer's row is written (the other process has not written it yet)
  looks again for up to a second (`LOOKUP_SECONDS`); answering itself never waits.

All writing happens on one background thread per process: answering never waits for the database,
and a database that is down costs only what would have been written (logged, never raised).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable

from assistant.answering.answer import Answer, Status
from assistant.stores.conversations import conversation_key
from assistant.stores.counts import AnswerCounts, week_of
from assistant.stores.database import Database
from assistant.stores.kept import KeptQuestions
from assistant.stores.recent import PURGE_SECONDS as RECENT_PURGE_SECONDS
from assistant.stores.recent import RECENT_SECONDS, RecentAnswer, RecentAnswers
from assistant.stores.redact import redact
from assistant.stores.write_errors import short_reason

log = logging.getLogger(__name__)

__all__ = ["RECENT_SECONDS", "RecentAnswer", "Recorder"]

FLUSH_SECONDS = 2.0
PURGE_SECONDS = 3600.0  # kept questions and the audit of their age: checked hourly
QUEUE_MAX = 10000
RECENT_BATCH = 200  # recent answers written in one transaction at most (when answers come quickly)
LOOKUP_SECONDS = 1.0  # how long a thumbs down looks for an answer not written yet
LOOKUP_PAUSE = 0.05
MAX_TEXT = 4000  # characters of a question or an answer that are redacted and kept
DECLINED = (Status.DECLINED_NOT_COVERED, Status.DECLINED_OUT_OF_SCOPE)


class Recorder:
    def __init__(
        self,
        db: Database,
        keep_questions: bool,
        keep_days: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keep_questions = keep_questions
        self.kept = KeptQuestions(db, keep_days)
        self.counts = AnswerCounts(db)
        self.recent = RecentAnswers(db, clock=clock)
        self.clock = clock
        self._pending: Counter = Counter()
        self._unwritten: list[tuple[str, RecentAnswer, bool]] = []  # recent answers, and whether to keep the question
        self._jobs: queue.Queue = queue.Queue(maxsize=QUEUE_MAX)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._last_flush = self._last_purge = self._last_recent_purge = 0.0
        self.last_failure: str | None = None  # the last write that failed, until one succeeds (/healthz)

    def start(self) -> None:
        """Load what the first record needs (the database's schema, the name lists) now, in the
        background, so that the first questions do not share the processor with it."""

        def warm_up() -> None:
            self.kept.db.migrate()
            redact("Sarah Jones, 07700 900123, SW1A 1AA")

        self._submit(warm_up)

    # ---- called on the request path: quick, never raises
    def answered(self, question: str, answer: Answer, conversation: str | None = None) -> None:
        """`conversation`: the chat's random id for the conversation (only a digest is kept)."""
        self._submit(lambda: self._note_answer(question, answer, self.clock(), conversation))

    def thumbs(self, answer_id: str, helpful: bool, reason: str | None) -> RecentAnswer | None:
        """After a thumbs down, the recent answer it is about (its text and sources go beside the
        verdict) and its question kept (in the background). Waits a second at most. A thumbs up
        needs nothing of it: None."""
        if helpful:
            return None
        item = self._find(answer_id)
        if item is not None and self.keep_questions and item.question is not None:
            self._submit(lambda: self._keep_thumbs_down(answer_id, reason))
        return item

    def flush(self, timeout: float = 10) -> None:
        """Wait until everything submitted so far is written (the console reads after this)."""
        done = threading.Event()

        def write_then_tell() -> None:
            try:
                self._write_recent()
                self._write_counts()
            finally:
                done.set()

        self._submit(write_then_tell)
        done.wait(timeout)

    def _find(self, answer_id: str) -> RecentAnswer | None:
        """The answer from the database. One given a moment ago may not be written yet: by this
        process (its queue is let through) or by another (looked for again, briefly)."""
        deadline = time.monotonic() + LOOKUP_SECONDS
        try:
            item = self.recent.get(answer_id)
            if item is None:
                self.flush(timeout=LOOKUP_SECONDS)
                item = self.recent.get(answer_id)
            while item is None and time.monotonic() < deadline:
                time.sleep(LOOKUP_PAUSE)
                item = self.recent.get(answer_id)
            return item
        except Exception as err:  # a database that is down: the verdict is still counted if it can be
            log.warning("Could not read a recent answer (%s: %s)", type(err).__name__, err)
            return None

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
                # Written as soon as nothing else waits (so that a thumbs down finds them quickly),
                # in batches when answers come faster than one write each.
                if self._jobs.empty() or len(self._unwritten) >= RECENT_BATCH:
                    self._write_recent()
                now = time.monotonic()
                if now - self._last_flush >= FLUSH_SECONDS:
                    self._write_counts()
                if now - self._last_recent_purge >= RECENT_PURGE_SECONDS:
                    self._last_recent_purge = now
                    self.recent.purge()
                if now - self._last_purge >= PURGE_SECONDS:
                    self._last_purge = now
                    removed = self.kept.purge()
                    if removed:
                        log.info("Deleted %d kept questions older than %d days", removed, self.kept.keep_days)
            except Exception as err:  # a database that is down: this record is lost, answering goes on
                self.last_failure = f"the last record could not be written ({short_reason(err)})"
                log.warning("Could not write a record (%s: %s)", type(err).__name__, err)

    def _note_answer(self, question: str, answer: Answer, at: float, conversation: str | None = None) -> None:
        declined = answer.status in DECLINED
        if not (answer.status is Status.ANSWERED or declined):
            return  # an empty, too long or unreadable question, or an error: nothing to count or keep
        self._pending[(week_of(at), "declined" if declined else "answered")] += 1
        if not answer.answer_id:
            return
        # Bounded work: an answered or declined question is short (ASSISTANT_MAX_QUESTION_CHARS).
        redacted = redact(question[:MAX_TEXT]) if self.keep_questions else None
        sources = [f"{c.title}: {c.section}" if c.section else c.title for c in answer.citations]
        item = RecentAnswer(
            at,
            answer.status.value,
            redacted,
            redact(answer.text[:MAX_TEXT]).text,
            sources,
            conversation=conversation_key(conversation),
        )
        self._unwritten.append((answer.answer_id, item, declined and redacted is not None))

    def _write_recent(self) -> None:
        """The recent answers noted so far, and the declined ones' kept questions, in one
        transaction (a declined question is kept once, with its recent answer pointing to it)."""
        if not self._unwritten:
            return
        batch, self._unwritten = self._unwritten, []  # lost if the database is down: never retried
        with self.kept.db.begin() as conn:
            for _, item, keep in batch:
                if keep:
                    item.kept_id = self.kept.add(
                        item.question, "declined", item.status, at=item.at, conn=conn, conversation=item.conversation
                    )
            self.recent.put_all([(answer_id, item) for answer_id, item, _ in batch], conn)
        self.last_failure = None

    def _keep_thumbs_down(self, answer_id: str, reason: str | None) -> None:
        item = self.recent.get(answer_id)  # read again: another process may have kept it meanwhile
        if item is None or item.question is None:
            return
        if item.kept_id is None:
            question, status, at, conversation = item.question, item.status, self.clock(), item.conversation

            def add(conn) -> int:
                return self.kept.add(
                    question, "thumbs_down", status, reason=reason, at=at, conn=conn, conversation=conversation
                )

            if self.recent.keep_once(answer_id, add) is not None:
                return
            item = self.recent.get(answer_id)  # kept by another process first: add the reason to it
        if reason and item is not None and item.kept_id is not None:
            self.kept.set_reason(item.kept_id, reason)

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
        self.last_failure = None
