"""The console's web sources: add or remove one (an edit of `assistant.yaml`, saved through the
console's usual checks and audit), sync now, and each page's status and kept text."""

from __future__ import annotations

from assistant.console.corpus import ChangeRefused, Corpus, Job
from assistant.sources import manage


class Sources:
    def __init__(self, corpus: Corpus, audit) -> None:
        self.corpus, self.audit = corpus, audit
        self.settings = corpus.service.settings

    def add(self, url: str, include: str, refresh: str, who: str) -> Job:
        return self._edit(lambda text: manage.add_source(text, url, include, refresh), who)

    def remove(self, url: str, who: str) -> Job:
        return self._edit(lambda text: manage.remove_source(text, url), who)

    def sync_now(self, who: str):
        """Sync every source now; None when a sync is already running."""
        from assistant.sources.sync import run

        report = run(self.corpus.service, wait=False)
        if report is not None:
            self.audit.write(who, "sync", report.lines()[0])
        return report

    def view(self) -> dict:
        return {"sources": manage.sources_view(self.settings), "pages": manage.pages_view(self.settings)}

    def preview(self, url: str) -> str:
        return manage.preview(self.settings, url)

    def _edit(self, change, who: str) -> Job:
        try:
            text = change(self.corpus.read_file("assistant.yaml"))
        except manage.SourceRefused as err:
            raise ChangeRefused(str(err), 422, "invalid_source") from err
        return self.corpus.save_file("assistant.yaml", text, who)
