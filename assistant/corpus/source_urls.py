"""Which web addresses a document may give as its source (front matter `url:`, an HTML page's
canonical link) and a contact in `assistant.yaml` may link to.

A source is an absolute http(s) address: never a relative path, `javascript:`, `data:` or any other
scheme. It may not point at the app itself (its staff console behind a login, its API): a citation
that opens the console would carry a reader, or a member of staff, somewhere they did not mean to
go. The app knows its own address only partly (behind a reverse proxy it sees neither the public
name nor the port), so what is refused is what is surely its own: loopback and unspecified
addresses, the configured `ASSISTANT_HOST`, and the host name a console upload came in on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "::", "localhost.localdomain"})
OWN_PATHS = ("/admin", "/api/")  # the console and the JSON API: never a citation's target


def is_web_address(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and not re.search(r"[\s<>\"'\\]", url)


def own_hosts(*names: str | None) -> frozenset[str]:
    """The host names surely the app's own: loopback, plus those given (ASSISTANT_HOST, a request's
    Host header), lower case and without a port."""
    hosts = set(LOCAL_HOSTS)
    for name in names:
        host = _host(name or "")
        if host:
            hosts.add(host)
    return frozenset(hosts)


def own_address_problem(url: str, hosts: Iterable[str], declared: Iterable[str] = ()) -> str | None:
    """Why a web address is refused as pointing at the app itself, or None. A site the deployer
    declared as a web source (`declared`: host:port) is the guidance's, whatever its address; even
    there, the app's own console and API paths are refused."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return None
    if parts.netloc.lower() in set(declared):
        path = (parts.path or "/").lower()
        if path == "/admin" or path.startswith(("/admin/", "/api/")):
            return "it points at the staff console or the API, not at a page for the public"
        return None
    if host in set(hosts) or host.endswith(".localhost") or host.startswith("127."):
        return "it points at this assistant's own server, not at a page of the guidance's publisher"
    return None


def relative_link_problem(url: str) -> str | None:
    """Why a relative link (a contact's `/...`) is refused: another host written as `//host` or
    `/\\host`, or the app's console or API."""
    if url.startswith(("//", "/\\")) or "\\" in url:
        return "it must be a path on this site (starting with a single /)"
    if url.lower().startswith(OWN_PATHS) or url.lower() == "/admin":
        return "it points at the staff console or the API, not at a page for the public"
    return None


def _host(name: str) -> str:
    name = name.strip().lower()
    if not name:
        return ""
    if "://" not in name:
        name = "http://" + name
    try:
        return (urlsplit(name).hostname or "").rstrip(".")
    except ValueError:
        return ""
