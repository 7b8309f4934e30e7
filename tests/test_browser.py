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


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    port = free_port()
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("web")), "ASSISTANT_PORT": str(port),
           "ASSISTANT_EMBEDDER": "hashing", "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError("the app did not start: " + proc.stdout.read().decode()[-2000:])
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        yield b
        b.close()


def ask(page, question: str, n: int) -> str:
    box = page.locator('textarea[data-testid="textbox"]')
    box.fill(question)
    box.press("Enter")
    bot = page.locator('[data-testid="bot"]').nth(n - 1)
    bot.wait_for(timeout=20000)
    page.wait_for_timeout(1500)  # the answer streams in
    return bot.inner_text()


@pytest.mark.parametrize("viewport,name", [({"width": 1280, "height": 900}, "desktop"),
                                           ({"width": 390, "height": 844}, "phone")])
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
