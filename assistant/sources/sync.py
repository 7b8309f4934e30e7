"""`assistant sync`: bring the web sources' pages into the corpus, and index what changed.

Each page is kept as a Markdown document (its own words, with its title, canonical URL and date in
the front matter) under `web-pages/<site>/` in the corpus folder, beside the deployer's own files, so
that everything downstream (chunking, the index, citations with `#:~:text=` deep links, sharing
with other machines, the console's document list) treats it like any other document. What the sync
knows of each page (its ETag, Last-Modified, content hash, last fetch and last change, status and
error) is kept in `web-sources.json` in the data folder.

- a page that answers 404 or 410, or that a sitemap no longer lists, is removed;
- a page that fails for another reason (a timeout, a server error, too large) keeps its last good
  version and is reported as failed;
- a page robots.txt disallows is never requested (and is removed if it was kept before);
- pages on other hosts than the source's (sitemap entries, redirects) are not followed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from assistant.files import write_atomically
from assistant.settings import Settings
from assistant.sources.declared import WebSource, load_sources
from assistant.sources.extract import NoText, extract
from assistant.sources.fetch import SITEMAP_TYPES, Fetcher
from assistant.sources.sitemaps import SitemapError, read_sitemap

log = logging.getLogger(__name__)

WEB_FOLDER = "web-pages"  # in the corpus folder
STATE_FILE = "web-sources.json"  # in the data folder
MAX_CHILD_SITEMAPS = 50
OUTCOMES = ("added", "changed", "unchanged", "removed", "failed", "skipped")


@dataclass
class PageState:
    source: str
    file: str = ""  # relative to the corpus folder; '' until a good version was kept
    title: str = ""
    etag: str = ""
    last_modified: str = ""
    hash: str = ""
    status: int = 0
    error: str = ""
    fetched_at: float = 0.0
    changed_at: float = 0.0


@dataclass
class PageResult:
    url: str
    outcome: str  # one of OUTCOMES
    status: int = 0
    error: str = ""
    title: str = ""


@dataclass
class SyncReport:
    pages: list[PageResult] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    ingest: list[str] = field(default_factory=list)  # the ingest's summary lines, when anything changed

    def counts(self) -> dict[str, int]:
        return {o: sum(1 for p in self.pages if p.outcome == o) for o in OUTCOMES}

    @property
    def changed_anything(self) -> bool:
        c = self.counts()
        return bool(c["added"] or c["changed"] or c["removed"])

    def to_json(self) -> dict:
        return {
            **self.counts(),
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "pages": [asdict(p) for p in self.pages],
            "ingest": self.ingest,
        }

    def lines(self) -> list[str]:
        c = self.counts()
        out = [
            f"Pages: {c['added']} added, {c['changed']} changed, {c['unchanged']} unchanged, {c['removed']} removed, "
            f"{c['failed']} failed, {c['skipped']} skipped   ({self.requests} requests, {self.seconds:.1f} s)"
        ]
        out += [
            f"{p.outcome.capitalize()}: {p.url}" + (f" ({p.error})" if p.error else "")
            for p in self.pages
            if p.outcome in ("added", "changed", "removed")
        ]
        out += [
            f"{p.outcome.capitalize()}: {p.url}: {p.error}" for p in self.pages if p.outcome in ("failed", "skipped")
        ]
        return out + self.ingest


class SyncState:
    """What the sync knows: each page's state, and when each source was last synced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pages: dict[str, PageState] = {}
        self.synced_at: dict[str, float] = {}  # source URL -> when it was last synced
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            self.pages = {url: PageState(**entry) for url, entry in data.get("pages", {}).items()}
            self.synced_at = {url: float(at) for url, at in data.get("synced_at", {}).items()}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, AttributeError) as err:
            log.warning("%s could not be read (%s): every page is fetched afresh", path.name, err)

    def write(self) -> None:
        data = {
            "synced_at": dict(sorted(self.synced_at.items())),
            "pages": {url: asdict(s) for url, s in sorted(self.pages.items())},
        }
        write_atomically(self.path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))

    def due(self, sources: list[WebSource], now: float | None = None) -> list[WebSource]:
        """The sources whose refresh interval has passed since they were last synced."""
        now = time.time() if now is None else now
        return [s for s in sources if now - self.synced_at.get(s.url, 0.0) >= s.refresh_seconds]


class Syncer:
    def __init__(self, settings: Settings, fetcher: Fetcher | None = None) -> None:
        self.settings = settings
        self.corpus = settings.corpus_dir
        self.fetcher = fetcher or Fetcher(
            delay=settings.web_delay_seconds,
            timeout=settings.web_timeout_seconds,
            max_bytes=int(settings.max_document_mb * 1_000_000),
        )
        self.state = SyncState(settings.data_dir / STATE_FILE)

    def sync(self, sources: list[WebSource] | None = None, only: set[str] | None = None) -> SyncReport:
        """Fetch the declared sources' pages (`only` these source URLs, when given) and keep what
        changed; pages of sources no longer declared are removed. Does not index (see `run`)."""
        started = time.perf_counter()
        sources = load_sources(self.settings.deployer_path) if sources is None else sources
        declared = {s.url for s in sources}
        chosen = [s for s in sources if only is None or s.url in only]
        report, seen = SyncReport(), set()
        try:
            for source in chosen:
                listing = self._listing(source, report)
                self.state.synced_at[source.url] = time.time()
                if listing is None:  # its sitemap failed: its pages stay as they were
                    seen |= {u for u, s in self.state.pages.items() if s.source == source.url}
                    continue
                for url in listing:
                    if url in seen:
                        continue
                    seen.add(url)
                    report.pages.append(self._page(source, url))
            synced = {s.url for s in chosen}
            for url, page in sorted(self.state.pages.items()):
                if url not in seen and (page.source in synced or page.source not in declared):
                    report.pages.append(self._remove(url, "no longer listed by a source"))
            for gone in set(self.state.synced_at) - declared:
                del self.state.synced_at[gone]
        finally:
            self.fetcher.close()
            self.state.write()
        report.requests = self.fetcher.requests
        report.seconds = time.perf_counter() - started
        return report

    # ---- which pages a source lists
    def _listing(self, source: WebSource, report: SyncReport) -> list[str] | None:
        if not source.is_sitemap:
            return [source.url]
        limit = self.settings.web_max_pages
        pages, pending, read = [], [source.url], 0
        while pending and read <= MAX_CHILD_SITEMAPS and len(pages) < limit:
            url = pending.pop(0)
            read += 1
            problem = ""
            if not self.fetcher.allowed(url):
                problem = "robots.txt disallows it"
            else:
                fetched = self.fetcher.get(url, source.site, accept_any=True)
                if fetched.error or fetched.status != 200:
                    problem = fetched.error or f"the site answered {fetched.status}"
                elif fetched.content_type and fetched.content_type not in SITEMAP_TYPES:
                    problem = f"it is not a sitemap ({fetched.content_type})"
                else:
                    try:
                        found = read_sitemap(fetched.body, limit)
                    except SitemapError as err:
                        problem = str(err)
            if problem:
                report.pages.append(PageResult(url, "failed", error=f"the sitemap could not be read: {problem}"))
                return None
            pending += [u for u in found.sitemaps if urlsplit(u).netloc.lower() == source.site][:MAX_CHILD_SITEMAPS]
            for page in found.pages:
                if source.wants(page):
                    pages.append(page)
                elif urlsplit(page).netloc.lower() != source.site:
                    report.pages.append(PageResult(page, "skipped", error="it is on another site"))
        return list(dict.fromkeys(pages))[:limit]

    # ---- one page
    def _page(self, source: WebSource, url: str) -> PageResult:
        known = self.state.pages.get(url)
        if not self.fetcher.allowed(url):
            if known and known.file:
                return self._remove(url, "robots.txt now disallows it")
            return PageResult(url, "skipped", error="robots.txt disallows it")
        kept = known is not None and known.file and (self.corpus / known.file).is_file()
        fetched = self.fetcher.get(url, source.site, known.etag if kept else "", known.last_modified if kept else "")
        state = known or PageState(source=url)
        state.source, state.fetched_at, state.status = source.url, time.time(), fetched.status
        self.state.pages[url] = state
        if fetched.status == 304 and kept:
            state.error = ""
            return PageResult(url, "unchanged", 304, title=state.title)
        if fetched.status in (404, 410):
            if kept:
                return self._remove(url, f"the site answered {fetched.status}", fetched.status)
            del self.state.pages[url]
            return PageResult(url, "failed", fetched.status, f"the site answered {fetched.status} (not found)")
        if fetched.status == 200 and not fetched.kind:  # an image, a spreadsheet...: not guidance to quote
            if kept:
                return self._remove(url, fetched.error, 200)
            del self.state.pages[url]
            return PageResult(url, "skipped", 200, fetched.error)
        if fetched.error or fetched.status != 200:
            state.error = fetched.error or f"the site answered {fetched.status}"
            return PageResult(
                url, "failed", fetched.status, state.error + ("; its last good version is kept" if kept else "")
            )
        try:
            page = extract(fetched)
        except NoText as err:
            state.error = str(err)
            return PageResult(url, "failed", 200, state.error + ("; its last good version is kept" if kept else ""))
        document = page.document().encode("utf-8")
        digest = hashlib.sha256(document).hexdigest()
        state.etag, state.last_modified, state.error, state.title = fetched.etag, fetched.last_modified, "", page.title
        if kept and state.hash == digest:
            return PageResult(url, "unchanged", 200, title=page.title)
        file = state.file if kept else self._file_for(url)
        existing = self.corpus / file
        # Not in this machine's record, but already in the corpus (synced by another machine that
        # shares the index, or a record lost): the same text is not a change.
        if not kept and existing.is_file() and hashlib.sha256(existing.read_bytes()).hexdigest() == digest:
            state.file, state.hash = file, digest
            return PageResult(url, "unchanged", 200, title=page.title)
        existing_before = existing.is_file()
        state.file = file
        write_atomically(existing, document)
        state.hash, state.changed_at = digest, time.time()
        return PageResult(url, "changed" if kept or existing_before else "added", 200, title=page.title)

    def _remove(self, url: str, why: str, status: int = 0) -> PageResult:
        state = self.state.pages.pop(url)
        if state.file:
            (self.corpus / state.file).unlink(missing_ok=True)
            _remove_empty_parents(self.corpus / state.file, self.corpus)
        return PageResult(url, "removed", status, why, state.title)

    def _file_for(self, url: str) -> str:
        parts = urlsplit(url)
        site = re.sub(r"[^A-Za-z0-9.-]+", "_", parts.netloc.lower())
        slug = re.sub(r"[^A-Za-z0-9]+", "-", parts.path + ("-" + parts.query if parts.query else "")).strip("-")[:80]
        digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:8]
        return f"{WEB_FOLDER}/{site}/{slug or 'home'}-{digest}.md"


def _remove_empty_parents(path: Path, stop: Path) -> None:
    parent = path.parent
    while parent != stop and parent.is_relative_to(stop):
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


def run(service, due_only: bool = False, wait: bool = True) -> SyncReport | None:
    """Sync every source (or, `due_only`, those whose refresh interval has passed, decided once the
    lock is held), then index what changed: one sync at a time on this machine (a lock in the data
    folder) and, with an index shared by several machines, across all of them (the shared index's
    lock). With `wait=False`, None when another sync is running."""
    from filelock import FileLock, Timeout

    settings = service.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.data_dir / ".web-sync.lock"))
    try:
        lock.acquire(timeout=settings.web_timeout_seconds * 10 if wait else 0)
    except Timeout:
        if not wait:
            return None
        raise
    try:
        only = None
        if due_only:
            only = {s.url for s in SyncState(settings.data_dir / STATE_FILE).due(load_sources(settings.deployer_path))}
            if not only:
                return None
        if service.shared is None:
            return _sync_and_index(service, only, locked=False)
        with service.shared.lock():
            service.pull()
            return _sync_and_index(service, only, locked=True)
    finally:
        lock.release()


def _sync_and_index(service, only: set[str] | None, locked: bool) -> SyncReport:
    report = Syncer(service.settings).sync(only=only)
    if report.changed_anything or not service.keeper.usable():
        report.ingest = service.ingest(locked=locked).lines()
    return report
