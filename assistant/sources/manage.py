"""What the staff console (and its JSON API) shows and changes about web sources.

Adding or removing a source edits `sources:` in the deployer's file with ruamel.yaml, which keeps
the file's comments and layout; the console then saves it through its usual checks. Each page's
status comes from the sync's own record (`web-sources.json`), and its preview from the document
the sync kept.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

from assistant.settings import Settings
from assistant.sources.declared import DEFAULT_REFRESH_SECONDS, load_sources, parse_source
from assistant.sources.sync import STATE_FILE, SyncState

PREVIEW_CHARS = 4000


class SourceRefused(ValueError):
    """A source that cannot be added or removed; the message says why."""


def _yaml():
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 10_000
    return yaml


def add_source(text: str, url: str, include: str = "", refresh: str = "") -> str:
    """The deployer's file with one more source (checked as `sync` would read it)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    entry = {"url": url.strip()}
    if include.strip():
        entry["include"] = [p.strip() for p in include.split(",") if p.strip()]
    if refresh.strip():
        entry["refresh"] = refresh.strip()
    try:
        parse_source(entry)
    except ValueError as err:
        raise SourceRefused(f"This source cannot be used: {err}.") from err
    data = _load(text)
    sources = data.get("sources")
    if sources is None:
        sources = data["sources"] = CommentedSeq()
    if any(_url_of(s) == entry["url"] for s in sources):
        raise SourceRefused(f"{entry['url']} is already a source.")
    sources.append(CommentedMap(entry))
    return _dump(data)


def remove_source(text: str, url: str) -> str:
    data = _load(text)
    sources = data.get("sources") or []
    kept = [s for s in sources if _url_of(s) != url]
    if len(kept) == len(sources):
        raise SourceRefused(f"{url} is not one of the sources.")
    for s in [s for s in sources if _url_of(s) == url]:
        sources.remove(s)
    if not sources:
        del data["sources"]
    return _dump(data)


def sources_view(settings: Settings) -> list[dict]:
    state = SyncState(settings.data_dir / STATE_FILE)
    rows = []
    for source in load_sources(settings.deployer_path):
        pages = [p for p in state.pages.values() if p.source == source.url]
        rows.append(
            {
                "url": source.url,
                "include": list(source.include),
                "exclude": list(source.exclude),
                "refresh": _interval(source.refresh_seconds),
                "last_synced": _when(state.synced_at.get(source.url, 0.0)),
                "pages": sum(1 for p in pages if p.file),
                "failing": sum(1 for p in pages if p.error),
            }
        )
    return rows


def pages_view(settings: Settings) -> list[dict]:
    state = SyncState(settings.data_dir / STATE_FILE)
    return [
        {
            "url": url,
            "title": page.title,
            "source": page.source,
            "status": page.status,
            "last_fetched": _when(page.fetched_at),
            "last_changed": _when(page.changed_at),
            "error": page.error,
            "file": page.file,
        }
        for url, page in sorted(state.pages.items())
    ]


def preview(settings: Settings, url: str) -> str:
    """The text the sync kept for this page (what the assistant quotes), without its front matter."""
    page = SyncState(settings.data_dir / STATE_FILE).pages.get(url)
    if page is None or not page.file:
        return "No text has been kept for this page yet."
    path = Path(settings.corpus_dir) / page.file
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return "No text has been kept for this page yet."
    if text.startswith("---\n") and "\n---\n" in text[4:]:
        text = text[4:].split("\n---\n", 1)[1]
    text = text.strip()
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "\n\n[...]"


def _load(text: str):
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    try:
        data = _yaml().load(text or "") or CommentedMap()
    except YAMLError as err:
        raise SourceRefused(f"assistant.yaml cannot be read ({str(err).splitlines()[0]}); fix it first.") from err
    if not isinstance(data, dict):
        raise SourceRefused("assistant.yaml should be a list of settings (name: ..., contacts: ...); fix it first.")
    if data.get("sources") is not None and not isinstance(data["sources"], list):
        raise SourceRefused("`sources:` in assistant.yaml should be a list; fix it first.")
    return data


def _dump(data) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def _url_of(entry) -> str:
    return str(entry.get("url", "")).strip() if isinstance(entry, dict) else str(entry).strip()


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(at)) if at else "never"


def _interval(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}" + (" (default)" if seconds == DEFAULT_REFRESH_SECONDS else "")
    return f"{seconds}s"
