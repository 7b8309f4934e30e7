"""Keeping the web sources fresh while serving: a thread in each server process looks every
`web_check_seconds` for sources whose refresh interval has passed and syncs them. One sync runs at
a time across the processes of a machine (the sync's lock; a process that finds it held skips its
turn) and across machines sharing an index (the shared index's lock). When a sync changes
anything, the ingest that follows replaces the index snapshot, which every process picks up within
a second (`Service` watches it)."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)
FIRST_CHECK_SECONDS = 2.0  # soon after start-up, not during it


class SyncSchedule:
    def __init__(self, service) -> None:
        self.service = service
        self.every = service.settings.web_check_seconds
        self._thread = threading.Thread(target=self._loop, name="web-sync", daemon=True)

    def start(self) -> SyncSchedule:
        self._thread.start()
        return self

    def _loop(self) -> None:
        wait = min(FIRST_CHECK_SECONDS, self.every)
        while True:  # a daemon thread: it ends with the process
            time.sleep(wait)
            self.tick()
            wait = self.every

    def tick(self) -> None:
        """Sync what is due; never raises (a failed sync is logged, and tried again at its next turn)."""
        from assistant.sources.declared import load_sources
        from assistant.sources.sync import run

        try:
            if not load_sources(self.service.settings.deployer_path):
                return
            report = run(self.service, due_only=True, wait=False)
        except Exception:
            log.exception("The web sources could not be synced; the answers still come from the last good pages")
            return
        if report is not None:
            log.info("Web sources synced: %s", report.lines()[0])
