"""The public chat in a real browser: Debian's headless Chromium driven by Playwright, against the
real app (`assistant serve --port N`) on a free 127.0.0.1 port, and a host page on another port that
embeds the widget with its one script tag. Screenshots go to test-artifacts/."""

import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ARTEFACTS, CHROMIUM, ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TITLE = "Ask about probation commissioning"  # corpus/assistant.yaml
SOURCE = "https://www.clinks.org/our-work/probation-services#:~:text="
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is installed by `make test`")

DESKTOP = {"width": 1280, "height": 900}
PHONES = {"phone390": {"width": 390, "height": 844}, "phone375": {"width": 375, "height": 667}}
SIZES = {"desktop": DESKTOP, **PHONES}


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
        time.sleep(0.2)
    return False


HOST_PORT = free_port()
HOST_URL = f"http://127.0.0.1:{HOST_PORT}"


class App:
    """`assistant serve` in its own process, which a test may stop and start again on the same port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "ASSISTANT_DATA_DIR": str(self.data_dir),
            "ASSISTANT_EMBEDDER": "auto",  # as deployed: the verified model that `make test` installs
            "ASSISTANT_ALLOWED_ORIGINS": f'["{HOST_URL}"]',
        }
        log = open(self.data_dir / "serve.log", "ab")  # a file, not a pipe: a full pipe would stall the server
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "serve", "--port", str(self.port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if not wait_for(self.url + "/healthz", b'"ok":true'):
            self.stop()
            raise RuntimeError("the app did not start: " + (self.data_dir / "serve.log").read_text()[-2000:])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def app(service, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("web")
    # The index the session's service built (same corpus, same model): serving starts in seconds.
    shutil.copytree(service.settings.index_dir, data_dir / "index")
    server = App(data_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def app_url(app):
    return app.url


# A theme's styles that must not reach into the widget: a 10 px root font size, spaced-out text.
HOST_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>html {{ font-size: 62.5% }} body * {{ letter-spacing: 3px; line-height: 3; color: #555 }}</style></head>
<body><a href="#main">Skip to content</a><header><nav><a href="/">Home</a> <a href="/other.html">Other page</a></nav></header>
<main id="main"><h1>{title}</h1><p>Host page text.</p><a href="#top">A link in the page</a></main>
<script src="{app}/embed.js" defer {attrs}></script></body></html>"""

HOSTILE_TITLE = '<img src=x onerror="alert(1)">Ask us'


@pytest.fixture(scope="module")
def host_page(app_url, tmp_path_factory):
    """Plain pages on another origin, as the Clinks WordPress site would be, with the one script tag."""
    folder = tmp_path_factory.mktemp("host")
    pages = {
        "index.html": ("Probation services", ""),
        "other.html": ("Another page", ""),
        "welsh.html": ("Gwasanaethau prawf", ""),  # a Welsh page: the widget follows it
        "themed.html": (
            "Themed",
            f"data-title='{HOSTILE_TITLE}' data-greeting='<b>Hi</b> there' data-colour='#ffdd00' "
            "data-side='left' data-position='end'",
        ),
    }
    for name, (title, attrs) in pages.items():
        lang = "cy" if name == "welsh.html" else "en"
        (folder / name).write_text(HOST_PAGE.format(lang=lang, title=title, app=app_url, attrs=attrs), encoding="utf-8")
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


class Visit:
    """A page in a fresh browser context that records every request and every console error (a
    Content-Security-Policy violation is one)."""

    def __init__(self, browser, **options):
        self.context = browser.new_context(**options)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def outside(self, *origins: str) -> list[str]:
        return [u for u in self.requests if not u.startswith(origins) and not u.startswith(("data:", "blob:"))]

    def close(self):
        self.context.close()


def ask(page, question: str, n: int) -> str:
    """Type a question in the chat, press Enter, and return the n-th answer once it is complete."""
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    return answer(page, n)


def answer(page, n: int) -> str:
    done = page.locator("clinks-chat .turn.bot:not(.pending)")
    done.nth(n - 1).wait_for(timeout=20000)
    return done.nth(n - 1).locator(".bubble").inner_text()


def focused(page) -> str:
    """The element that has focus, looking inside shadow roots: its class, or its tag."""
    return page.evaluate(
        "() => { let a = document.activeElement;"
        " while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;"
        " return a ? (a.getAttribute('class') || a.tagName.toLowerCase()) : ''; }"
    )


def run_axe(page, within: str | None = None) -> list[dict]:
    """Serious or critical axe-core violations on the page (or within one element, shadow root
    included). Evaluated through the DevTools protocol, which the page's CSP does not block."""
    page.evaluate(AXE.read_text() + "\n;0")
    return page.evaluate(
        "async (within) => (await axe.run(within ? {include: [[within]]} : document)).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.html.slice(0, 120))}))",
        within,
    )


WATCH_ANNOUNCEMENTS = """() => {
  const root = document.querySelector('clinks-chat').shadowRoot;
  const live = '[aria-live], [role=status], [role=alert], [role=log]';
  window.announced = [];
  new MutationObserver((records) => {
    const regions = new Set();
    for (const r of records) {
      const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      if (node && node.closest(live)) regions.add(node.closest(live));
      for (const added of r.addedNodes) {
        if (added.nodeType === 1) {
          if (added.matches(live)) regions.add(added);
          added.querySelectorAll(live).forEach((n) => regions.add(n));
        }
      }
    }
    regions.forEach((n) => { const t = n.textContent.trim(); if (t) window.announced.push(t); });
  }).observe(root, {subtree: true, childList: true, characterData: true});
}"""


def stored_conversation(page) -> dict:
    return json.loads(page.evaluate("() => sessionStorage.getItem('clinks-assistant:conversation')") or "{}")


@pytest.mark.parametrize("size", SIZES)
def test_the_page_answers_follow_ups_shows_sources_and_keeps_the_conversation(app_url, browser, size):
    visit = Visit(browser, viewport=SIZES[size])
    page = visit.page
    page.goto(app_url + "/", wait_until="load")
    box = page.get_by_label("Your question")
    box.wait_for()
    # usable soon after load: styled, the box ready, the welcome shown
    page.wait_for_function("() => !document.querySelector('clinks-chat').shadowRoot.querySelector('.shell').hidden")
    timing = page.evaluate(
        "() => ({usable: performance.getEntriesByName('clinks-chat-ready')[0].startTime,"
        " load: performance.getEntriesByType('navigation')[0].loadEventEnd,"
        " bytes: performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
        ".reduce((n, e) => n + e.decodedBodySize, 0)})"
    )
    assert timing["usable"] - timing["load"] <= 1000, timing
    assert timing["bytes"] <= 60 * 1024, timing  # the page's own files, uncompressed
    (ARTEFACTS / f"page-{size}-timing.json").write_text(json.dumps(timing))
    welcome = page.locator("clinks-chat .welcome").inner_text()
    assert "I can help with probation jargon" in welcome and "personal details about people on probation" in welcome
    assert page.locator("clinks-chat .starter").count() == 4

    first = ask(page, "What is IASME Gold?", 1)
    assert "highest level of IASME certification" in first
    second = ask(page, "How often does it need renewing?", 2)
    assert "renewed every year" in second
    assert "**" not in first + second  # the Markdown is rendered, not shown
    # numbered markers link to their source card, which shows title, section, date and the quote
    latest = page.locator("clinks-chat .turn.bot").nth(1)
    card_link = latest.locator(".card a.title").first
    assert card_link.get_attribute("href").startswith(SOURCE)
    assert "Probation services" in card_link.inner_text()
    assert "Published 8 March 2022" in latest.locator(".card .meta").first.inner_text()
    quote = latest.locator(".card blockquote").first
    assert not quote.is_visible()
    latest.locator("a.cite").first.click()
    assert quote.is_visible() and "renewed every year" in quote.inner_text()
    assert focused(page) == "card"
    # the question box stays in view at every size, and nothing scrolls sideways
    view = SIZES[size]
    b = box.bounding_box()
    assert b["y"] >= 0 and b["y"] + b["height"] <= view["height"] and b["x"] + b["width"] <= view["width"]
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(ARTEFACTS / f"page-{size}.png"))

    if size == "desktop":
        # an unsent question and the conversation survive a reload
        box.fill("an unsent question")
        page.reload(wait_until="load")
        page.locator("clinks-chat .turn.bot").nth(1).wait_for()
        assert page.locator("clinks-chat .turn.bot").count() == 2
        assert "renewed every year" in page.locator("clinks-chat .turn.bot").nth(1).inner_text()
        assert page.get_by_label("Your question").input_value() == "an unsent question"
        # a new conversation forgets it, here and in the browser's session storage
        page.get_by_role("button", name="New conversation").click()
        assert page.locator("clinks-chat .turn").count() == 0 and page.locator("clinks-chat .welcome").is_visible()
        assert focused(page) == "textarea"
        assert stored_conversation(page)["turns"] == []
        page.reload(wait_until="load")
        page.locator("clinks-chat .welcome").wait_for()
        assert page.locator("clinks-chat .turn").count() == 0
    else:
        # a starter question is asked with one tap
        page.get_by_role("button", name="New conversation").click()
        page.get_by_role("button", name="What does call-off mean?").click()
        assert "compete for a contract" in answer(page, 1)
    assert visit.outside(app_url) == []
    assert visit.errors == []
    visit.close()


def test_one_announcement_per_answer_and_contacts_are_links(app_url, browser):
    visit = Visit(browser, viewport=DESKTOP)
    page = visit.page
    page.goto(app_url + "/", wait_until="load")
    page.get_by_label("Your question").wait_for()
    page.evaluate(WATCH_ANNOUNCEMENTS)
    ask(page, "What is market warming?", 1)
    page.wait_for_timeout(300)
    declined = ask(page, "How much does Cyber Essentials Plus cost?", 2)
    page.wait_for_timeout(300)
    announced = page.evaluate("() => window.announced")
    assert len(announced) == 2, announced  # the words streamed on screen, but were announced once each
    assert announced[0].startswith("Market warming is the stage") and "1 source below" in announced[0]
    assert announced[1].startswith("Sorry, the guidance I draw on") and "[" not in "".join(announced)
    # the decline's contacts: tap to call, tap to e-mail
    turn = page.locator("clinks-chat .turn.bot").nth(1)
    assert "0845 0100 132" in declined
    assert turn.locator('a[href="tel:08450100132"]').inner_text() == "0845 0100 132"
    assert turn.locator('a[href="mailto:esourcing@justice.gov.uk"]').count() == 1
    assert turn.locator('a[href="https://www.clinks.org/our-work/probation-services"]').count() == 1
    visit.close()


def test_axe_finds_nothing_serious_on_the_page_in_light_and_dark(app_url, browser):
    for scheme in ("light", "dark"):
        visit = Visit(browser, viewport=DESKTOP, color_scheme=scheme)
        page = visit.page
        page.goto(app_url + "/", wait_until="load")
        ask(page, "What is IASME Gold?", 1)
        ask(page, "Who do I call about my Jaggaer password?", 2)
        page.get_by_role("button", name="Not helpful").first.click()
        page.locator("clinks-chat summary").first.click()
        page.get_by_label("Your question").fill("x" * 900)  # the character count shows
        assert run_axe(page) == [], scheme
        if scheme == "dark":
            page.screenshot(path=str(ARTEFACTS / "page-desktop-dark.png"))
        visit.close()


def test_thumbs_down_with_a_reason_is_stored_with_the_answer_id_only(app, browser):
    visit = Visit(browser, viewport=DESKTOP)
    page = visit.page
    visit.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    page.goto(app.url + "/", wait_until="load")
    question = "What is the ROIF?"
    ask(page, question, 1)
    answer_id = stored_conversation(page)["turns"][0]["a"]["answer_id"]
    page.get_by_role("button", name="Not helpful").click()
    note = page.locator("clinks-chat .note")
    note.filter(has_text="Thank you for your feedback").wait_for()
    assert page.get_by_role("button", name="Not helpful").get_attribute("aria-pressed") == "true"
    with page.expect_response("**/api/feedback"):  # the thanks shows at once; the saving follows
        page.get_by_role("button", name="It seems wrong or out of date").click()
    note.filter(has_text="That helps us improve").wait_for()
    assert focused(page) == "note"  # focus goes to the thanks, not to the page
    db = app.data_dir / "feedback.sqlite3"
    rows = sqlite3.connect(db).execute("SELECT helpful, reason FROM feedback WHERE answer_id = ?", (answer_id,))
    assert rows.fetchall() == [(0, "wrong")]  # one thumbs down, completed by its reason
    assert b"ROIF" not in db.read_bytes()  # never the question
    # copy gives clean text with the sources' links
    page.get_by_role("button", name="Copy the answer").click()
    note.filter(has_text="copied").wait_for()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith("The ROIF") or "ROIF" in copied.split("\n")[0]
    assert "**" not in copied and "\n\nSources:\n[1] Probation services, " in copied and SOURCE in copied
    visit.close()


@pytest.mark.parametrize("size", SIZES)
def test_the_widget_by_keyboard_alone(app_url, host_page, browser, size):
    visit = Visit(browser, viewport=SIZES[size])
    page = visit.page
    page.goto(host_page, wait_until="load")
    launcher = page.get_by_role("button", name=TITLE)
    launcher.wait_for()
    # in the tab order just after the site's navigation, before the page's own content
    for _ in range(4):
        page.keyboard.press("Tab")
    assert focused(page) == "launcher"
    assert page.locator("clinks-chat .tip").is_visible()  # its tooltip, on keyboard focus too
    b = launcher.bounding_box()
    assert 52 <= b["width"] <= 60 and abs(b["width"] - b["height"]) < 1
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=TITLE)
    dialog.wait_for()
    assert dialog.get_attribute("aria-modal") == "true" and launcher.get_attribute("aria-expanded") == "true"
    assert focused(page) == "textarea"  # focus moves into the question box
    label = page.locator("clinks-chat .ask label")
    assert label.evaluate("(n) => [getComputedStyle(n).fontSize, getComputedStyle(n).letterSpacing]") == [
        "16px",
        "normal",
    ]  # the host page's styles stay out
    assert page.evaluate("() => document.documentElement.style.overflow") == "hidden"  # the page does not scroll
    page.keyboard.type("do we need CE+?")
    page.keyboard.press("Enter")
    assert "Cyber Essentials Plus" in answer(page, 1)
    page.keyboard.type("when must it be in place?")
    page.keyboard.press("Enter")
    assert "one month before" in answer(page, 2)
    assert page.locator("clinks-chat .card a.title").first.get_attribute("href").startswith(SOURCE)
    box = page.get_by_label("Your question").bounding_box()
    d = dialog.bounding_box()
    view = SIZES[size]
    assert box["y"] + box["height"] <= view["height"]
    if size != "desktop":
        assert d["width"] >= view["width"] - 1 and d["height"] >= view["height"] - 1  # full screen
    page.screenshot(path=str(ARTEFACTS / f"widget-{size}.png"))
    # focus is trapped in the dialog, both ways
    for key in ["Tab"] * 30 + ["Shift+Tab"] * 5:
        page.keyboard.press(key)
        assert page.evaluate("() => document.activeElement.tagName") == "CLINKS-CHAT", key
    if size == "desktop":
        assert run_axe(page) == []  # the host page with the widget open
        # axe looks inside the widget's shadow root: a planted unlabelled button is found...
        page.evaluate(
            "() => document.querySelector('clinks-chat').shadowRoot.querySelector('.chat')"
            ".appendChild(Object.assign(document.createElement('button'), {className: 'planted'}))"
        )
        assert [v["id"] for v in run_axe(page, "clinks-chat")] == ["button-name"]
        page.evaluate("() => document.querySelector('clinks-chat').shadowRoot.querySelector('.planted').remove()")
        assert run_axe(page, "clinks-chat") == []  # ...and without it, nothing serious
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert focused(page) == "launcher" and launcher.get_attribute("aria-expanded") == "false"
    assert page.evaluate("() => document.documentElement.style.overflow") == ""
    if size == "desktop":
        # another page of the host site: the conversation is still there
        page.goto(HOST_URL + "/other.html", wait_until="load")
        page.get_by_role("button", name=TITLE).click()
        assert "one month before" in answer(page, 2)
        page.get_by_role("button", name="Close the chat").click()
        assert focused(page) == "launcher"
    assert visit.outside(app_url, HOST_URL) == []
    assert [e for e in visit.errors if "favicon" not in e and "404" not in e] == []
    visit.close()


def test_widget_attributes_theme_it_and_are_shown_as_text_only(app_url, host_page, browser):
    visit = Visit(browser, viewport=DESKTOP)
    page = visit.page
    page.goto(HOST_URL + "/themed.html", wait_until="load")
    launcher = page.get_by_role("button", name=HOSTILE_TITLE)
    launcher.wait_for()
    page.wait_for_function("() => !document.querySelector('clinks-chat').shadowRoot.querySelector('.shell').hidden")
    colours = launcher.evaluate("(b) => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]")
    assert colours == ["rgb(255, 221, 0)", "rgb(11, 12, 12)"]  # dark text on a light colour
    assert launcher.bounding_box()["x"] < 100  # data-side="left"
    assert page.evaluate("() => document.body.lastElementChild.tagName") == "CLINKS-CHAT"  # data-position="end"
    launcher.click()
    assert page.get_by_role("heading", name=HOSTILE_TITLE).is_visible()
    assert page.locator("clinks-chat .greeting").inner_text() == "<b>Hi</b> there"
    page.wait_for_timeout(300)
    assert visit.dialogs == [] and page.locator("clinks-chat img").count() == 0
    visit.close()


def test_zoom_reduced_motion_long_questions_and_markup(app_url, host_page, browser):
    # 200 % zoom of a 1280x900 screen is a 640x450 window
    visit = Visit(browser, viewport={"width": 640, "height": 450}, reduced_motion="reduce")
    page = visit.page
    page.goto(app_url + "/", wait_until="load")
    box = page.get_by_label("Your question")
    assert "plain text" in ask(page, "<script>alert('x')</script><img src=x onerror=alert(2)>", 1)
    assert "<script>" in page.locator("clinks-chat .you .bubble").inner_text()  # shown as typed, never run
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert box.bounding_box()["y"] + box.bounding_box()["height"] <= 450
    # the count appears near the limit, and a too-long question is stopped with a message
    count = page.locator("clinks-chat .count")
    box.fill("a" * 850)
    assert count.inner_text() == "You have 150 characters remaining"
    box.fill("probation " * 200)
    assert count.inner_text() == "You have 1,000 characters too many"
    sent = len([u for u in visit.requests if u.endswith("/api/ask/stream")])
    box.press("Enter")
    assert "too long" in page.locator("clinks-chat .retry").inner_text()
    assert len([u for u in visit.requests if u.endswith("/api/ask/stream")]) == sent
    page.screenshot(path=str(ARTEFACTS / "page-zoom200.png"))
    # the widget at that size fills the window; nothing moves for people who asked for less motion
    page.goto(host_page, wait_until="load")
    launcher = page.get_by_role("button", name=TITLE)
    launcher.click()
    d = page.get_by_role("dialog", name=TITLE).bounding_box()
    assert d["width"] >= 639 and d["height"] >= 449
    assert launcher.evaluate("(b) => getComputedStyle(b).transitionDuration") == "0s"
    page.screenshot(path=str(ARTEFACTS / "widget-zoom200.png"))
    assert visit.dialogs == []
    visit.close()
    # a phone whose reader chose twice the usual text size: everything grows, nothing is cut off
    visit = Visit(browser, viewport=PHONES["phone390"])
    page = visit.page
    visit.context.new_cdp_session(page).send("Page.setFontSizes", {"fontSizes": {"standard": 32, "fixed": 26}})
    page.goto(host_page, wait_until="load")
    page.get_by_role("button", name=TITLE).click()
    close = page.get_by_role("button", name="Close the chat")
    assert page.locator("clinks-chat .ask label").evaluate("(n) => getComputedStyle(n).fontSize") == "32px"
    b = close.bounding_box()
    assert b["x"] + b["width"] <= 390 and page.get_by_role("button", name="Send").bounding_box()["x"] + 10 < 390
    page.screenshot(path=str(ARTEFACTS / "widget-large-text.png"))
    visit.close()


def test_a_lost_connection_keeps_the_question_and_a_restart_keeps_the_conversation(app, browser):
    """Last in this module: it stops the server and starts it again on the same port."""
    visit = Visit(browser, viewport=PHONES["phone390"])
    page = visit.page
    page.goto(app.url + "/", wait_until="load")
    assert "highest level of IASME certification" in ask(page, "What is IASME Gold?", 1)
    app.stop()
    box = page.get_by_label("Your question")
    box.fill("How often does it need renewing?")
    box.press("Enter")
    retry = page.locator("clinks-chat .retry")
    retry.filter(has_text="could not be reached").wait_for()
    assert box.input_value() == "How often does it need renewing?"  # nothing typed is lost
    assert page.locator("clinks-chat .turn.bot").count() == 1
    page.screenshot(path=str(ARTEFACTS / "page-connection-lost.png"))
    app.start()
    page.get_by_role("button", name="Try again").click()
    assert "renewed every year" in answer(page, 2)
    assert retry.is_hidden()
    page.reload(wait_until="load")
    page.locator("clinks-chat .turn.bot").nth(1).wait_for()
    assert [t.inner_text() for t in page.locator("clinks-chat .you .bubble").all()] == [
        "What is IASME Gold?",
        "How often does it need renewing?",
    ]
    visit.close()


def test_the_page_names_its_conversation_so_the_console_counts_people_not_requests(app, browser):
    """Two declined questions in one tab keep one conversation digest; a new conversation, another.
    The browser's own id never reaches the database, only its digest."""
    visit = Visit(browser, viewport=DESKTOP)
    page = visit.page
    page.goto(app.url + "/", wait_until="load")
    question = "what songs should our prison choir sing at the winter concert?"
    for n in (1, 2):
        with page.expect_response("**/api/ask/stream") as sent:
            ask(page, question, n)
        assert sent.value.request.post_data_json["conversation"] == stored_conversation(page)["conversation"]
    first = stored_conversation(page)["conversation"]
    page.get_by_role("button", name="New conversation").first.click()
    with page.expect_response("**/api/ask/stream") as sent:
        ask(page, question, 1)
    second = sent.value.request.post_data_json["conversation"]
    assert second != first and re.fullmatch(r"[0-9a-f]{32}", second)
    time.sleep(1.5)  # the records thread writes in the background
    db = app.data_dir / "feedback.sqlite3"
    rows = sqlite3.connect(db).execute("SELECT conversation FROM kept_questions WHERE text = ?", (question,)).fetchall()
    digests = [r[0] for r in rows]
    assert len(digests) == 3 and len(set(digests)) == 2 and first not in digests and second not in digests
    visit.close()
