"""Page weight of the widget on a host site: the requests and bytes the widget costs on a first and
a SECOND page view, with the browser's cache on (as a visitor browsing the host site has it).

    python scripts/page_weight.py --app http://127.0.0.1:8000     # an app already serving
    python scripts/page_weight.py --serve                         # serve this checkout (hashing embedder)

Debian's Chromium through Playwright; the host pages are served on another 127.0.0.1 port. Bytes
are what crossed the network (the DevTools protocol's encodedDataLength: headers and the body as
sent, compressed or not); a response from the browser's cache costs no request and no bytes.
Not a test: tests/test_browser.py checks the figure stays low.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
HOST_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>{title}</h1><p>Host page text.</p><a href="{other}">Another page</a></main>
<script src="{app}/embed.js" defer></script></body></html>"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(url)


def host_site(folder: Path, app: str, lang: str = "en") -> tuple[subprocess.Popen, str]:
    """Two plain pages on another origin, each with the widget's one script tag."""
    port = free_port()
    host_site_pages(folder, app, lang)
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/one.html")
    return proc, url


def measure(browser, first: str, second: str, app: str) -> dict:
    """Visit one page, then another of the host site in the same browser context (cache on): the
    widget's requests and bytes on each view (those to the app), counted from the DevTools protocol."""
    context = browser.new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    seen: dict[str, dict] = {}

    def sent(e):
        seen[e["requestId"]] = {"url": e["request"]["url"], "bytes": 0, "cached": False, "status": None}

    def served(e):
        item = seen.setdefault(e["requestId"], {"url": e["response"]["url"], "bytes": 0, "cached": False})
        item["status"] = e["response"]["status"]
        item["cached"] = bool(e["response"].get("fromDiskCache") or e["response"].get("fromMemoryCache"))

    def from_cache(e):
        if e["requestId"] in seen:
            seen[e["requestId"]]["cached"] = True

    def finished(e):
        if e["requestId"] in seen:
            seen[e["requestId"]]["bytes"] = e["encodedDataLength"]

    cdp.on("Network.requestWillBeSent", sent)
    cdp.on("Network.responseReceived", served)
    cdp.on("Network.requestServedFromCache", from_cache)
    cdp.on("Network.loadingFinished", finished)
    views = {}
    for name, url in (("first", first), ("second", second)):
        seen.clear()
        page.goto(url, wait_until="load")
        page.wait_for_function(
            "() => { const c = document.querySelector('clinks-chat');"
            " return c && c.shadowRoot && c.shadowRoot.querySelector('.shell') &&"
            " !c.shadowRoot.querySelector('.shell').hidden; }",
            timeout=20000,
        )
        page.wait_for_timeout(500)
        mine = [r for r in seen.values() if r["url"].startswith(app)]
        # From the cache, a response costs no bytes (Chromium does not always flag it as cached).
        network = [r for r in mine if not r["cached"] and int(r["bytes"]) > 0]
        views[name] = {
            "requests": len(network),
            "bytes": sum(int(r["bytes"]) for r in network),
            "from_cache": len(mine) - len(network),
            "detail": [
                {
                    "url": r["url"].removeprefix(app),
                    "status": r.get("status"),
                    "bytes": int(r["bytes"]),
                    "cached": r["cached"],
                }
                for r in mine
            ],
        }
    context.close()
    return views


def serve_checkout(checkout: Path, data_dir: Path, origin: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        {
            "ASSISTANT_DATA_DIR": str(data_dir),
            "ASSISTANT_EMBEDDER": "hashing",  # the page weight does not depend on the embedder
            "ASSISTANT_ALLOWED_ORIGINS": json.dumps([origin]),
            "HF_HUB_OFFLINE": "1",
        }
    )
    log = open(data_dir / "serve.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)],
        cwd=checkout,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/healthz")
    return proc, url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", help="the app's address, already serving")
    parser.add_argument("--serve", nargs="?", const=str(ROOT), help="serve this checkout (or the one named)")
    parser.add_argument("--lang", default="en", help="the host page's lang attribute")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        host_port_folder = Path(tmp) / "host"
        host_port_folder.mkdir()
        server, host_proc = None, None
        try:
            if args.serve:
                # The host site first: the app must know its origin (it may call and frame the app).
                placeholder = "http://127.0.0.1:0"
                host_proc, host = host_site(host_port_folder, placeholder, args.lang)
                data = Path(tmp) / "data"
                data.mkdir()
                server, app = serve_checkout(Path(args.serve), data, host)
                host_site_pages(host_port_folder, app, args.lang)
            else:
                app = args.app.rstrip("/")
                host_proc, host = host_site(host_port_folder, app, args.lang)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                views = measure(browser, host + "/one.html", host + "/two.html", app)
                browser.close()
        finally:
            for proc in (server, host_proc):
                if proc is not None and proc.poll() is None:
                    proc.terminate()
                    proc.wait(timeout=20)
    print(json.dumps(views, indent=2))
    for name, view in views.items():
        print(f"{name} view: {view['requests']} request(s), {view['bytes']:,} bytes, {view['from_cache']} from cache")
    return 0


def host_site_pages(folder: Path, app: str, lang: str) -> None:
    for name, other, title in (("one.html", "two.html", "Page one"), ("two.html", "one.html", "Page two")):
        (folder / name).write_text(HOST_PAGE.format(lang=lang, title=title, other=other, app=app), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
