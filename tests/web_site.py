"""A small website on 127.0.0.1 for the web-source tests, shaped like a real charity's: pages with
navigation, a cookie banner, an accordion, a table and a footer full of "donate" furniture; a linked
PDF; a sitemap index with a plain and a gzipped sitemap; robots.txt with a disallowed folder; and the
awkward cases: a redirect to another site, a slow page, a huge page, an image, a malformed sitemap.

Pages can be changed or removed while it runs; every request is logged (path, time, conditional
headers) so that a test can check what was, and was not, asked for. Conditional requests are
answered like a real server: an ETag per version, 304 when it matches."""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.test_documents import minimal_pdf

FURNITURE_TOP = """<header><nav aria-label="Main"><ul><li><a href="/">Home</a></li><li><a href="/about">About us</a></li>
<li><a href="/donate">Donate</a></li><li><a href="/news">News and blogs</a></li></ul></nav></header>
<div class="cookie-banner" role="dialog"><p>We use cookies to improve your experience of our website.
<button>Accept all cookies</button> <button>Reject non-essential cookies</button></p></div>"""
FURNITURE_BOTTOM = """<aside class="donate"><h2>Support our work</h2><p>Donate today and help us support voluntary
organisations working in criminal justice. Every gift makes a difference.</p></aside>
<footer><p>Registered charity number 1074546. Company limited by guarantee 3661443.</p>
<ul><li><a href="/privacy">Privacy policy</a></li><li><a href="/accessibility">Accessibility</a></li></ul></footer>"""


def page(title: str, body: str, canonical: str = "", modified: str = "2026-10-14") -> str:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title} | Community Justice Network</title>"
        f"{link}<meta property='article:modified_time' content='{modified}T09:00:00+00:00'></head><body>"
        f"{FURNITURE_TOP}<main><article><h1>{title}</h1>{body}</article></main>{FURNITURE_BOTTOM}</body></html>"
    )


GRANTS = """<p>The Community Justice Fund offers small grants to voluntary organisations that support people
on probation in England and Wales.</p>
<h2>How much you can apply for</h2>
<p>The smallest grant is £2,500 and the largest grant is £15,000 for one year of work.</p>
<table><thead><tr><th>Organisation income</th><th>Largest grant</th></tr></thead>
<tbody><tr><td>Under £100,000</td><td>£7,500</td></tr><tr><td>£100,000 or more</td><td>£15,000</td></tr></tbody></table>
<h2>Questions people ask</h2>
<details><summary>Can we apply twice?</summary><p>Each organisation may hold only one Community Justice Fund grant
at a time, so a second application must wait until the first grant has ended.</p></details>
<details><summary>When is the deadline?</summary><p>Applications for this round close at noon on 30 January 2027.</p></details>"""

MENTORING = """<p>Peer mentoring schemes match people leaving prison with trained mentors who have lived experience
of the justice system.</p>
<h2>Training for mentors</h2>
<ul><li>Every mentor completes twelve hours of safeguarding training before meeting a mentee.</li>
<li>Mentors meet their supervisor once a month to talk through their cases.</li></ul>
<p>Read the <a href="/files/mentor-handbook.pdf">mentor handbook (PDF)</a> for the full guidance.</p>"""


class Site:
    """The site's pages (path -> (content type, body, extra headers)), changeable while it runs."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.site = self
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.requests: list[dict] = []
        self.slow_seconds = 5.0
        self.pages: dict[str, tuple[str, bytes, dict]] = {}
        self._lock = threading.Lock()
        self._build()
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Site:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def html(self, path: str, text: str) -> None:
        self.pages[path] = ("text/html; charset=utf-8", text.encode("utf-8"), {})

    def remove(self, path: str) -> None:
        self.pages.pop(path, None)

    def requested(self, prefix: str) -> list[dict]:
        return [r for r in self.requests if r["path"].startswith(prefix)]

    def _build(self) -> None:
        b = self.base
        self.pages["/robots.txt"] = ("text/plain", b"User-agent: *\nDisallow: /private/\n", {})
        self.html("/guidance/grants", page("Community Justice Fund grants", GRANTS, canonical=f"{b}/guidance/grants"))
        self.html("/guidance/mentoring", page("Peer mentoring", MENTORING, canonical=f"{b}/guidance/mentoring"))
        self.html("/private/board-minutes", page("Board minutes", "<p>The board met in private on 3 March.</p>"))
        self.html("/guidance/moved", "")  # answered with a redirect to another site
        self.html("/guidance/slow", page("Slow page", "<p>This page takes a long time to arrive.</p>"))
        self.html("/guidance/huge", page("Huge page", "<p>" + "All work and no play. " * 800_000 + "</p>"))
        self.pages["/files/mentor-handbook.pdf"] = (
            "application/pdf",
            minimal_pdf("Mentor handbook. Mentors must never lend money to a mentee or borrow money from one."),
            {"Last-Modified": "Tue, 06 Oct 2026 08:00:00 GMT"},
        )
        self.pages["/images/logo.png"] = ("image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, {})
        urls = [
            f"{b}/guidance/grants",
            f"{b}/guidance/mentoring",
            f"{b}/private/board-minutes",
            f"{b}/guidance/moved",
            f"{b}/guidance/slow",
            f"{b}/guidance/huge",
            f"{b}/images/logo.png",
            "https://elsewhere.example/guidance/other-site",
        ]
        self.pages["/sitemap-pages.xml"] = ("application/xml", urlset(urls), {})
        self.pages["/sitemap-files.xml.gz"] = (
            "application/gzip",
            gzip.compress(urlset([f"{b}/files/mentor-handbook.pdf"])),
            {},
        )
        index = (
            '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{b}/sitemap-pages.xml</loc></sitemap><sitemap><loc>{b}/sitemap-files.xml.gz</loc></sitemap>"
            "<sitemap><loc>https://elsewhere.example/sitemap.xml</loc></sitemap></sitemapindex>"
        )
        self.pages["/sitemap_index.xml"] = ("application/xml", index.encode(), {})
        self.pages["/broken-sitemap.xml"] = ("application/xml", b"<?xml version='1.0'?><urlset><url><loc>oops", {})


def urlset(urls: list[str]) -> bytes:
    entries = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        site: Site = self.server.site
        path = self.path.split("?", 1)[0]
        site.requests.append(
            {
                "path": path,
                "at": time.monotonic(),
                "if_none_match": self.headers.get("If-None-Match", ""),
                "user_agent": self.headers.get("User-Agent", ""),
            }
        )
        if path == "/guidance/moved":
            other = site.base.replace("127.0.0.1", "localhost")
            return self._send(301, b"", "text/html", {"Location": f"{other}/guidance/grants"})
        found = site.pages.get(path)
        if found is None:
            return self._send(404, b"<h1>Not found</h1>", "text/html")
        content_type, body, extra = found
        if path == "/guidance/slow":
            time.sleep(site.slow_seconds)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            return self._send(304, b"", content_type, {"ETag": etag})
        self._send(200, body, content_type, {"ETag": etag, **extra})

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if status != 304:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
