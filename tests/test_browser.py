"""The chat in a real browser: Debian's headless Chromium driven by Playwright, against the real
app started on a free 127.0.0.1 port."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
ARTEFACTS = ROOT / "test-artifacts"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is installed by `make test`")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, expected: bytes, seconds: float = 60) -> bool:
    """Poll a server we started until it answers with the expected bytes."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if expected in urllib.request.urlopen(url, timeout=1).read():
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


HOST_PORT = free_port()
HOST_URL = f"http://127.0.0.1:{HOST_PORT}"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("web")


@pytest.fixture(scope="module")
def app_url(data_dir):
    port = free_port()
    env = {
        **os.environ,
        "ASSISTANT_DATA_DIR": str(data_dir),
        "ASSISTANT_PORT": str(port),
        "ASSISTANT_EMBEDDER": "auto",  # as deployed: the verified model that `make test` installs
        "GRADIO_ANALYTICS_ENABLED": "False",
        "ASSISTANT_ALLOWED_ORIGINS": f'["{HOST_URL}"]',
    }
    log = open(data_dir / "serve.log", "wb")  # a file, not a pipe: a full pipe would stall the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    if not wait_for(url + "/healthz", b'"chat_loaded":true'):
        proc.kill()
        raise RuntimeError("the app did not start: " + (data_dir / "serve.log").read_text()[-2000:])
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def host_page(app_url, tmp_path_factory):
    """A plain page on another origin, as the Clinks WordPress site would be, with the one script tag."""
    folder = tmp_path_factory.mktemp("host")
    (folder / "index.html").write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Clinks host page</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        f'<body><main><h1>Probation services</h1><p>Host page text.</p><a href="#top">A link</a></main>'
        f'<script src="{app_url}/embed.js" defer></script></body></html>'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(HOST_PORT), "--bind", "127.0.0.1"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert wait_for(HOST_URL + "/", b"Host page text"), "the host page server did not start"
    yield HOST_URL + "/"
    proc.terminate()
    proc.wait(timeout=10)


def run_axe(frame) -> list[dict]:
    frame.add_script_tag(content=AXE.read_text())
    return frame.evaluate(
        "async () => (await axe.run()).violations.filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.html.slice(0, 120))}))"
    )


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield b
        b.close()


def ask(page, question: str, n: int) -> str:
    """Ask in the chat (a page, or the frame of the embedded panel) and return the n-th answer."""
    box = page.locator('textarea[data-testid="textbox"]')
    box.fill(question)
    box.press("Enter")
    bot = page.locator('[data-testid="bot"]').nth(n - 1)
    bot.wait_for(timeout=20000)
    page.wait_for_timeout(1500)  # the answer streams in
    return bot.inner_text()


@pytest.mark.parametrize(
    "viewport,name", [({"width": 1280, "height": 900}, "desktop"), ({"width": 390, "height": 844}, "phone")]
)
def test_ask_and_follow_up_in_the_chat(app_url, browser, viewport, name):
    ARTEFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport=viewport)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(app_url + "/chat/", wait_until="load")
    first = ask(page, "What is IASME Gold?", 1)
    assert "highest level of IASME certification" in first
    second = ask(page, "How often does it need renewing?", 2)
    assert "renewed every year" in second
    link = page.locator('[data-testid="bot"] a[href*="#:~:text="]').first
    assert link.get_attribute("href").startswith("https://www.clinks.org/our-work/probation-services#:~:text=")
    page.screenshot(path=str(ARTEFACTS / f"chat-{name}.png"), full_page=True)
    outside = [u for u in requests if not u.startswith(app_url) and not u.startswith(("data:", "blob:"))]
    assert outside == []
    page.close()


def test_script_in_a_question_is_shown_as_text_never_run(app_url, browser):
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(app_url + "/chat/", wait_until="load")
    reply = ask(page, "<script>alert('x')</script><img src=x onerror=alert(2)>", 1)
    assert "plain text" in reply
    page.wait_for_timeout(500)
    assert dialogs == []
    page.close()


def test_chat_page_has_no_serious_accessibility_violations(app_url, browser):
    page = browser.new_page()
    page.goto(app_url + "/chat/", wait_until="load")
    ask(page, "What is market warming?", 1)
    assert run_axe(page) == []
    page.close()


@pytest.mark.parametrize(
    "viewport,name", [({"width": 1280, "height": 900}, "desktop"), ({"width": 390, "height": 844}, "phone")]
)
def test_widget_on_a_host_page(app_url, host_page, browser, viewport, name):
    page = browser.new_page(viewport=viewport)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(host_page, wait_until="load")
    launcher = page.get_by_role("button", name="Ask about probation commissioning")
    # reachable by keyboard: Tab from the page's link reaches the launcher, Enter opens it
    page.locator("a").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "clinks-ask-launcher"
    page.keyboard.press("Enter")
    panel = page.get_by_role("dialog", name="Ask about probation commissioning")
    panel.wait_for(state="visible")
    assert launcher.get_attribute("aria-expanded") == "true"
    frame = page.frame_locator('iframe[title="Clinks guidance assistant chat"]')
    frame.locator('textarea[data-testid="textbox"]').wait_for(timeout=20000)
    chat = next(f for f in page.frames if f.url.startswith(app_url))
    assert "Cyber Essentials Plus" in ask(chat, "do we need CE+?", 1)
    assert "one month before" in ask(chat, "when must it be in place?", 2)
    href = chat.locator('[data-testid="bot"] a[href*="#:~:text="]').first.get_attribute("href")
    assert href.startswith("https://www.clinks.org/our-work/probation-services#:~:text=")
    box = panel.bounding_box()
    if name == "phone":
        assert box["width"] >= 389 and box["height"] >= 843  # full screen on a narrow phone
    page.screenshot(path=str(ARTEFACTS / f"widget-{name}.png"))
    assert run_axe(page) == []
    # Escape closes the panel and gives focus back to the launcher
    page.get_by_role("button", name="Close the chat").focus()
    page.keyboard.press("Escape")
    panel.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.className") == "clinks-ask-launcher"
    own = (app_url, HOST_URL)
    assert [u for u in requests if not u.startswith(own) and not u.startswith(("data:", "blob:"))] == []
    page.close()


def test_thumbs_are_stored_with_the_answer_id(app_url, data_dir, browser):
    import sqlite3

    page = browser.new_page()
    page.goto(app_url + "/chat/", wait_until="load")
    ask(page, "What is the ROIF?", 1)
    page.get_by_role("button", name="Like", exact=True).first.click()
    page.wait_for_timeout(1000)
    rows = sqlite3.connect(data_dir / "feedback.sqlite3").execute("SELECT answer_id, helpful FROM feedback").fetchall()
    assert len(rows) == 1 and rows[0][1] == 1 and len(rows[0][0]) == 48  # a signed answer id
    page.close()


def test_a_huge_paste_gets_a_friendly_message(app_url, browser):
    page = browser.new_page()
    page.goto(app_url + "/chat/", wait_until="load")
    assert "too long" in ask(page, "probation " * 2000, 1)
    page.close()
