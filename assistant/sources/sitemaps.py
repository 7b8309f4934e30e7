"""Reading a sitemap (sitemaps.org): the pages it lists, or, for a sitemap index, the sitemaps.

Sitemaps are read as hostile input: gzip is inflated only up to a size limit, XML entities and
DTDs are refused (defusedxml), and a malformed sitemap is an error with a plain message.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

MAX_INFLATED = 50_000_000  # the sitemaps.org limit for one uncompressed sitemap


class SitemapError(Exception):
    """A sitemap that cannot be read; the message says why."""


@dataclass
class Sitemap:
    pages: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)  # a sitemap index lists other sitemaps


def read_sitemap(body: bytes, max_entries: int) -> Sitemap:
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    if body[:2] == b"\x1f\x8b":
        body = _gunzip(body)
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as err:
        raise SitemapError(f"it is not a readable sitemap ({type(err).__name__}: {str(err)[:80]})") from err
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise SitemapError(f"it is not a sitemap (its root is <{kind}>, not <urlset> or <sitemapindex>)")
    found = Sitemap()
    target = found.pages if kind == "urlset" else found.sitemaps
    for entry in root:
        for child in entry:
            if _local(child.tag) == "loc" and child.text and child.text.strip():
                target.append(child.text.strip())
                break
        if len(target) >= max_entries:
            break
    return found


def _gunzip(body: bytes) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, MAX_INFLATED + 1)
    except zlib.error as err:
        raise SitemapError(f"it is not a readable gzip file ({err})") from err
    if len(data) > MAX_INFLATED or inflater.unconsumed_tail:
        raise SitemapError(f"it inflates to more than {MAX_INFLATED // 1_000_000} MB")
    return data


def _local(tag) -> str:
    return str(tag).rsplit("}", 1)[-1]
