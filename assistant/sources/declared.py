"""The web sources a deployer declares in `assistant.yaml`, under `sources:`.

    sources:
      - url: https://www.clinks.org/sitemap.xml      # a sitemap (an index, or .xml.gz, too) or one page
        include: [https://www.clinks.org/our-work/probation]   # optional URL prefixes to keep
        exclude: [https://www.clinks.org/our-work/probation/events]  # optional prefixes to drop
        refresh: 1d                                  # optional: how often `serve` syncs it (30m, 6h, 1d)

The list is the deployer's own declaration: the hosts named here are fetched whatever their address
(an intranet, or the tests' 127.0.0.1 site), and nothing else is. An entry that cannot be used is
skipped with one warning saying why; the others still work.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

log = logging.getLogger(__name__)

DEFAULT_REFRESH_SECONDS = 24 * 3600
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class WebSource:
    url: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    refresh_seconds: int = DEFAULT_REFRESH_SECONDS

    @property
    def site(self) -> str:
        """scheme-less host[:port]: pages, sitemap entries and redirects must stay on it."""
        return urlsplit(self.url).netloc.lower()

    @property
    def is_sitemap(self) -> bool:
        path = urlsplit(self.url).path.lower()
        return path.endswith((".xml", ".xml.gz")) or "sitemap" in path.rsplit("/", 1)[-1]

    def wants(self, url: str) -> bool:
        """Is this page one of this source's? Same site, within `include` (if given), not `exclude`d."""
        if urlsplit(url).netloc.lower() != self.site:
            return False
        if self.include and not url.startswith(self.include):
            return False
        return not url.startswith(self.exclude)


def load_sources(path: Path) -> list[WebSource]:
    """The `sources:` of the deployer's file (none when the file or the list is absent)."""
    if not path.is_file():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        log.warning("The web sources in %s could not be read (%s); none are synced.", path.name, err)
        return []
    entries = data.get("sources") if isinstance(data, dict) else None
    if not entries:
        return []
    if not isinstance(entries, list):
        log.warning("`sources:` in %s should be a list of entries with a url; none are synced.", path.name)
        return []
    sources, seen = [], set()
    for entry in entries:
        try:
            source = parse_source(entry)
        except ValueError as err:
            log.warning("Ignoring a web source in %s: %s", path.name, err)
            continue
        if source.url not in seen:
            seen.add(source.url)
            sources.append(source)
    return sources


def parse_source(entry) -> WebSource:
    if isinstance(entry, str):
        entry = {"url": entry}
    if not isinstance(entry, dict):
        raise ValueError(f"expected an entry with a url, got {str(entry)[:60]!r}")
    url = _web_url(entry.get("url"), "url")
    return WebSource(
        url=url,
        include=tuple(_web_url(p, "include") for p in _as_list(entry.get("include"))),
        exclude=tuple(_web_url(p, "exclude") for p in _as_list(entry.get("exclude"))),
        refresh_seconds=parse_interval(entry.get("refresh")),
    )


def parse_interval(value) -> int:
    """`30m`, `6h`, `1d`, or seconds; at least five minutes (a site is not polled harder)."""
    if value is None or value == "":
        return DEFAULT_REFRESH_SECONDS
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", str(value).lower())
    if not match:
        raise ValueError(f"refresh {value!r} is not an interval such as 30m, 6h or 1d")
    seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds < 300:
        raise ValueError(f"refresh {value!r} is shorter than five minutes")
    return seconds


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _web_url(value, what: str) -> str:
    text = str(value or "").strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or re.search(r"[\s<>\"']", text):
        raise ValueError(f"{what} {text[:80]!r} is not a web address (http:// or https://)")
    return text
