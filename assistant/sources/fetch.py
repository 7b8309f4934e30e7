"""Fetching a site's pages politely and safely.

- `robots.txt` is read once per site and obeyed (a site whose robots.txt fails with a server error
  is not crawled this time; one with none, 404, may be);
- the user agent names the assistant; one request at a time, with `delay` seconds between two
  requests to one host;
- conditional requests (If-None-Match / If-Modified-Since), so an unchanged page costs a 304;
- a time limit for the whole response, not only between bytes, and a size limit: a page that
  trickles or never ends is cut off;
- redirects are followed only within the source's own site;
- only HTML, PDF and Word documents are taken.
"""

from __future__ import annotations

import logging
import time
import urllib.robotparser
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

log = logging.getLogger(__name__)

USER_AGENT = "ClinksGuidanceAssistant/1.0 (guidance sync; +https://www.clinks.org)"
ROBOTS_AGENT = "ClinksGuidanceAssistant"
MAX_REDIRECTS = 5
TAKEN = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}
SITEMAP_TYPES = ("application/xml", "text/xml", "application/gzip", "application/x-gzip", "application/octet-stream")


@dataclass
class Fetched:
    url: str  # where the page was found, after redirects within the site
    status: int = 0  # the HTTP status; 0 when there was no usable response
    content_type: str = ""
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""
    location: str = ""  # a redirect's target, as the site gave it
    error: str = ""  # why it could not be taken, in plain words

    @property
    def kind(self) -> str:
        """html, pdf or docx; '' for anything else."""
        return TAKEN.get(self.content_type, "")


class Fetcher:
    def __init__(self, delay: float, timeout: float, max_bytes: int, user_agent: str = USER_AGENT) -> None:
        self.delay, self.timeout, self.max_bytes = delay, timeout, max_bytes
        self.client = httpx.Client(
            headers={"User-Agent": user_agent},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10)),
            follow_redirects=False,
            trust_env=False,  # the deployer's declaration, not a proxy from the environment
        )
        self._last: dict[str, float] = {}  # host -> when its last request ended
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self.requests = 0

    def close(self) -> None:
        self.client.close()

    # ---- robots.txt
    def allowed(self, url: str) -> bool:
        """May this page be fetched? False when robots.txt disallows it, or could not be read."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            self._robots[origin] = self._read_robots(origin)
        robots = self._robots[origin]
        return robots is not None and robots.can_fetch(ROBOTS_AGENT, url)

    def _read_robots(self, origin: str) -> urllib.robotparser.RobotFileParser | None:
        fetched = self.get(origin + "/robots.txt", urlsplit(origin).netloc, accept_any=True)
        robots = urllib.robotparser.RobotFileParser()
        if fetched.status == 200:
            robots.parse(fetched.body.decode("utf-8", "replace").splitlines())
        elif 400 <= fetched.status < 500:
            robots.parse([])  # no robots.txt: everything may be fetched
        else:
            log.warning(
                "%s/robots.txt could not be read (%s): its pages are not fetched this time", origin, fetched.error
            )
            return None
        return robots

    # ---- one page
    def get(self, url: str, site: str, etag: str = "", last_modified: str = "", accept_any: bool = False) -> Fetched:
        """GET a page, following redirects within `site` (host[:port]). Never raises."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            fetched = self._once(current, headers)
            if fetched.status in (301, 302, 303, 307, 308) and not fetched.error:
                target = urljoin(current, fetched.location)
                if urlsplit(target).netloc.lower() != site.lower() or urlsplit(target).scheme not in ("http", "https"):
                    fetched.error = f"it redirects to another site ({_short(target)}), which is not followed"
                    fetched.status = 0
                    return fetched
                current = target
                continue
            if fetched.error or fetched.status in (304,) or accept_any:
                return fetched
            if fetched.status == 200 and not fetched.kind:
                fetched.error = f"it is not a web page, PDF or Word document ({fetched.content_type or 'no type'})"
            return fetched
        return Fetched(url, 0, error=f"more than {MAX_REDIRECTS} redirects")

    def _once(self, url: str, headers: dict[str, str]) -> Fetched:
        host = urlsplit(url).netloc.lower()
        wait = self._last.get(host, 0.0) + self.delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.requests += 1
        deadline = time.monotonic() + self.timeout
        try:
            with self.client.stream("GET", url, headers=headers) as response:
                fetched = Fetched(
                    url=url,
                    status=response.status_code,
                    content_type=response.headers.get("content-type", "").split(";")[0].strip().lower(),
                    etag=response.headers.get("etag", ""),
                    last_modified=response.headers.get("last-modified", ""),
                )
                if response.is_redirect:
                    fetched.location = response.headers.get("location", "")
                    return fetched
                if response.status_code != 200:
                    return fetched
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    return self._too_large(fetched)
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        return self._too_large(fetched)
                    if time.monotonic() > deadline:
                        fetched.status, fetched.error = 0, f"it took longer than {self.timeout:g} s to arrive"
                        return fetched
                    chunks.append(chunk)
                fetched.body = b"".join(chunks)
                return fetched
        except httpx.TimeoutException:
            return Fetched(url, 0, error=f"no answer within {self.timeout:g} s")
        except (httpx.HTTPError, OSError, ValueError) as err:
            return Fetched(url, 0, error=f"it could not be fetched ({type(err).__name__})")
        finally:
            self._last[host] = time.monotonic()

    def _too_large(self, fetched: Fetched) -> Fetched:
        fetched.status, fetched.body = 0, b""
        fetched.error = f"it is larger than {self.max_bytes / 1e6:,.1f} MB (ASSISTANT_MAX_DOCUMENT_MB)"
        return fetched


def _short(url: str) -> str:
    return url if len(url) <= 80 else url[:77] + "..."
