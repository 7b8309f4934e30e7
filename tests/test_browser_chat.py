"""The public chat finished (issue 19), in Debian's Chromium against the real app: answers that look
finished while they stream, source cards that can be told apart, focus and place kept, files served
compressed and cached (the page weight of a second view), and the Welsh interface. Screenshots go
to test-artifacts/."""

import json
import sys

import pytest

from tests import test_browser as shared
from tests.conftest import ARTEFACTS, ROOT
from tests.test_browser import DESKTOP, HOST_URL, PHONES, TITLE, Visit, answer, ask, focused, run_axe

pytestmark = shared.pytestmark
# The app and the host site, one of each for this module (the fixtures of tests/test_browser.py).
app, app_url, host_page = shared.app, shared.app_url, shared.host_page

sys.path.insert(0, str(ROOT / "scripts"))
from page_weight import measure  # noqa: E402

RECORD_STREAM = """() => {
  const root = document.querySelector('clinks-chat').shadowRoot;
  window.frames_seen = [];
  new MutationObserver(() => {
    const bubble = root.querySelector('.pending .bubble');
    if (bubble && !bubble.querySelector('.thinking')) {
      window.frames_seen.push({text: bubble.innerText, items: bubble.querySelectorAll('li').length,
                               markers: bubble.querySelectorAll('.cite').length});
    }
  }).observe(root, {subtree: true, childList: true, characterData: true});
}"""


def shadow(page, script: str):
    return page.evaluate(f"() => {{ const root = document.querySelector('clinks-chat').shadowRoot; {script} }}")


@pytest.mark.parametrize("size", ["desktop", "phone390"])
def test_an_answer_looks_finished_while_it_streams_and_reads_as_prose(app_url, browser, size):
    visit = Visit(browser, viewport=DESKTOP if size == "desktop" else PHONES[size])
    page = visit.page
    page.goto(app_url + "/", wait_until="load")
    page.get_by_label("Your question").wait_for()
    page.evaluate(RECORD_STREAM)
    page.evaluate(
        "() => { const root = document.querySelector('clinks-chat').shadowRoot; window.said = [];"
        " new MutationObserver(() => { const t = root.querySelector('[aria-live][aria-atomic]').textContent;"
        " if (t) window.said.push(t); }).observe(root, {subtree: true, childList: true, characterData: true}); }"
    )
    box = page.get_by_label("Your question")
    box.fill("What are the need categories?")
    box.press("Enter")
    page.locator("clinks-chat .pending li").first.wait_for()  # a list item, drawn while the answer arrives
    page.screenshot(path=str(ARTEFACTS / f"stream-{size}-midway.png"))
    final = answer(page, 1)
    frames = page.evaluate("() => window.frames_seen")
    assert len(frames) >= 5, frames
    for frame in frames:  # at every moment: no raw markers, list dashes or Markdown
        assert "[" not in frame["text"] and "**" not in frame["text"], frame
        assert not any(line.lstrip().startswith("-") for line in frame["text"].split("\n")), frame
    assert any(f["items"] and f["markers"] for f in frames[:-1])
    assert "Accommodation" in final and page.locator("clinks-chat .turn.bot li").count() >= 10
    # the one announcement: prose, each list item a sentence, then the sources by name
    said = page.evaluate("() => window.said")
    assert len(said) == 1, said
    assert "There are 14 service categories: Accommodation. Finance, Benefits and Debt." in said[0]
    assert " - " not in said[0] and "[" not in said[0] and "\n" not in said[0]
    assert said[0].endswith("1 source below: Probation services, Future commissioning opportunities.")
    # a quoted passage's list is a list
    box.fill("What does call-off mean?")
    box.press("Enter")
    answer(page, 2)
    card = page.locator("clinks-chat .turn.bot").nth(1).locator(".card").first
    card.locator("summary").click()
    quote = card.locator("blockquote")
    assert quote.locator("li").count() >= 2
    assert not any(line.lstrip().startswith("- ") for line in quote.inner_text().split("\n"))
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTEFACTS / f"quote-list-{size}.png"))
    assert visit.errors == []
    visit.close()


def fake_stream(answer: dict) -> str:
    return f"event: text\ndata: {json.dumps(answer['answer'])}\n\nevent: answer\ndata: {json.dumps(answer)}\n\n"


TWINS = {
    "answer_id": "ab" * 24,
    "answer": "The first part. [1] The same passage again. [2]\n\nAnother passage of that section. [3]",
    "citations": [
        {
            "n": 1,
            "title": "Probation services",
            "section": "Grants",
            "url": "https://www.clinks.org/a#one",
            "quote": "Grants are awarded by the Regional Probation Directors.",
            "date": "2022-03-08",
        },
        {
            "n": 2,
            "title": "Probation services",
            "section": "Grants",
            "url": "https://www.clinks.org/a#two",
            "quote": "Grants are awarded by the Regional Probation Directors.",
            "date": "2022-03-08",
        },
        {
            "n": 3,
            "title": "Probation services",
            "section": "Grants",
            "url": "https://www.clinks.org/a#three",
            "quote": "- Register on the portal\n- Apply through Jaggaer",
            "date": "2022-03-08",
        },
    ],
    "declined": False,
    "confident": True,
    "status": "answered",
    "answered_by": "extractive",
    "timings_ms": {},
    "retrieved_ids": [],
    "message": "",
}


def test_source_cards_can_be_told_apart(app_url, browser):
    visit = Visit(browser, viewport=DESKTOP)
    page = visit.page
    page.route(
        "**/api/ask/stream",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=fake_stream(TWINS)),
    )
    page.goto(app_url + "/", wait_until="load")
    ask(page, "How are grants awarded?", 1)
    turn = page.locator("clinks-chat .turn.bot").first
    cards = turn.locator(".card")
    assert cards.count() == 2  # citations of one passage share its card
    assert [m.inner_text() for m in turn.locator("a.cite").all()] == ["1", "1", "2"]
    starts = [c.locator(".starts").inner_text() for c in cards.all()]
    assert starts[0] == "Starts: “Grants are awarded by the Regional Probation Directors…”"
    assert starts[1] == "Starts: “Register on the portal Apply through Jaggaer…”"
    turn.locator("a.cite").nth(2).click()
    assert focused(page) == "card" and cards.nth(1).locator("blockquote li").count() == 2
    page.screenshot(path=str(ARTEFACTS / "cards-told-apart.png"))
    # copied, the markers and the sources agree
    visit.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url)
    page.get_by_role("button", name="Copy the answer").click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert "again. [1]" in copied and "section. [2]" in copied and "\n[2] Probation services, Grants" in copied
    visit.close()


def test_by_keyboard_focus_lands_on_the_thanks_and_a_reload_returns_to_the_last_answer(app_url, browser):
    visit = Visit(browser, viewport=PHONES["phone375"])
    page = visit.page
    page.goto(app_url + "/", wait_until="load")
    ask(page, "What is IASME Gold?", 1)
    ask(page, "How often does it need renewing?", 2)
    latest = page.locator("clinks-chat .turn.bot").nth(1)
    latest.get_by_role("button", name="Not helpful").focus()
    page.keyboard.press("Enter")
    reason = latest.get_by_role("button", name="It did not answer my question")
    reason.wait_for()
    for _ in range(10):  # the keyboard path, from the thumbs down to the first reason
        if focused(page) == "plain reason":
            break
        page.keyboard.press("Tab")
    assert focused(page) == "plain reason"
    with page.expect_response("**/api/feedback"):
        page.keyboard.press("Enter")
    note = latest.locator(".note")
    assert focused(page) == "note" and note.is_visible()
    assert note.inner_text() == "Thank you. That helps us improve the answers."
    assert note.evaluate("(n) => getComputedStyle(n).outlineStyle") == "solid"  # the focus is seen
    page.screenshot(path=str(ARTEFACTS / "feedback-reason-focus.png"))
    # a reload: the conversation, scrolled to the last question and its answer, not to the welcome
    page.reload(wait_until="load")
    page.locator("clinks-chat .turn.bot").nth(1).wait_for()
    page.wait_for_function("() => !document.querySelector('clinks-chat').shadowRoot.querySelector('.shell').hidden")
    place = shadow(
        page,
        "const log = root.querySelector('.log'); const asked = root.querySelectorAll('.you');"
        " const last = asked[asked.length - 1];"
        " return {top: log.scrollTop, offset: last.offsetTop, view: log.clientHeight, height: log.scrollHeight};",
    )
    assert place["top"] > 0 and 0 <= place["offset"] - place["top"] <= 16, place
    page.screenshot(path=str(ARTEFACTS / "reload-last-answer.png"))
    visit.close()


def test_a_second_page_of_a_host_site_fetches_nothing_and_the_first_is_compressed(app_url, host_page, browser):
    views = measure(browser, HOST_URL + "/index.html", HOST_URL + "/other.html", app_url)
    (ARTEFACTS / "page-weight.json").write_text(json.dumps(views, indent=2))
    first, second = views["first"], views["second"]
    paths = [d["url"].split("?")[0] for d in first["detail"]]
    assert paths == ["/embed.js", "/static/chat.js", "/static/chat.css", "/static/locales/en-GB.json"], paths
    # gzipped: 43,882 bytes before, for one file fewer
    assert first["requests"] == 4 and first["bytes"] < 25_000, first
    assert second["requests"] == 0 and second["bytes"] == 0, second  # everything from the browser's cache
    assert second["from_cache"] == 4


def test_the_chat_in_welsh_by_keyboard(app_url, browser):
    visit = Visit(browser, viewport=DESKTOP)
    page = visit.page
    page.goto(app_url + "/", wait_until="load")
    page.get_by_label("Your question").wait_for()
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")  # the switch, named in Welsh
    assert focused(page) == "plain switch"
    assert page.get_by_role("button", name="Cymraeg").get_attribute("lang") == "cy"
    page.keyboard.press("Enter")
    page.get_by_label("Eich cwestiwn").wait_for()
    assert focused(page) == "plain switch" and page.get_by_role("button", name="English").is_visible()
    assert page.evaluate("() => document.documentElement.lang") == "cy"
    assert shadow(page, "return root.querySelector('.shell').lang") == "cy"
    assert page.locator("a.skip").inner_text() == "Neidio i'r blwch cwestiwn"
    welcome = page.locator("clinks-chat .welcome").inner_text()
    assert "Gallaf helpu gyda probation jargon" in welcome and "bydd fy atebion yn Saesneg" in welcome
    theirs = [s.inner_text() for s in page.locator("clinks-chat .welcome span[lang=en-GB]").all()]
    assert theirs[0] == "Clinks guidance assistant" and theirs[1].startswith("probation jargon")  # as written
    # an answer stays in English, marked so, around Welsh
    box = page.get_by_label("Eich cwestiwn")
    box.fill("What is IASME Gold?")
    box.press("Enter")
    assert "highest level of IASME certification" in answer(page, 1)
    turn = page.locator("clinks-chat .turn.bot").first
    assert turn.locator(".bubble").get_attribute("lang") == "en-GB"
    assert "Cyhoeddwyd 8 Mawrth 2022" in turn.locator(".card .meta").first.inner_text()
    assert turn.get_by_role("button", name="Defnyddiol", exact=True).is_visible()
    # a decline, in Welsh, with the deployer's contacts as written, still tap to call
    box.fill("How much does Cyber Essentials Plus cost?")
    box.press("Enter")
    declined = answer(page, 2)
    assert declined.startswith("Mae'n ddrwg gen i, nid yw'r canllawiau")
    assert "Ynghylch the Jaggaer portal or your account, cysylltwch â the MoJ eSourcing team" in declined
    assert page.locator("clinks-chat .turn.bot").nth(1).locator('a[href="tel:08450100132"]').count() == 1
    # a question in Welsh: told, in Welsh, that the guidance is in English
    box.fill("Beth yw'r fframwaith deinamig?")
    box.press("Enter")
    assert "mae'r canllawiau rwy'n eu defnyddio yn Saesneg" in answer(page, 3)
    box.fill("x" * 900)
    assert page.locator("clinks-chat .count").inner_text() == "Mae gennych 100 nod ar ôl"
    box.fill("")
    page.screenshot(path=str(ARTEFACTS / "page-welsh-desktop.png"))
    assert visit.errors == []
    assert run_axe(page) == []
    visit.errors.clear()  # axe's own inline styles, which the page's policy refuses
    # the choice is kept for the next visit; switching back is one press
    page.reload(wait_until="load")
    page.get_by_label("Eich cwestiwn").wait_for()
    page.get_by_role("button", name="English").click()
    page.get_by_label("Your question").wait_for()
    assert page.evaluate("() => document.documentElement.lang") == "en-GB"
    assert answer(page, 2).startswith("Sorry, the guidance I draw on")  # the same turns, in English again
    assert visit.errors == []
    visit.close()


@pytest.mark.parametrize("size", ["desktop", "phone390"])
def test_the_widget_follows_a_welsh_host_page(app_url, host_page, browser, size):
    visit = Visit(browser, viewport=DESKTOP if size == "desktop" else PHONES[size])
    page = visit.page
    page.goto(HOST_URL + "/welsh.html", wait_until="load")
    launcher = page.get_by_role("button", name=TITLE)  # the deployer's title, as written
    launcher.click()
    dialog = page.get_by_role("dialog", name=TITLE)
    dialog.wait_for()
    assert focused(page) == "textarea"
    assert page.get_by_label("Eich cwestiwn").is_visible()
    assert page.get_by_role("button", name="Cau y sgwrs").is_visible()
    page.keyboard.type("What is IASME Gold?")
    page.keyboard.press("Enter")
    answer(page, 1)
    page.screenshot(path=str(ARTEFACTS / f"widget-welsh-{size}.png"))
    assert visit.errors == []
    if size == "desktop":
        assert run_axe(page, "clinks-chat") == []  # inside the widget's shadow root
        assert run_axe(page) == []
        visit.errors.clear()  # axe's own inline styles, which the page's policy refuses
    # the switch is in the widget's bar, and focus stays on it
    page.get_by_role("button", name="English").click()
    page.get_by_label("Your question").wait_for()
    assert focused(page) == "plain switch" and dialog.is_visible()
    page.keyboard.press("Escape")
    assert focused(page) == "launcher"
    assert visit.outside(app_url, HOST_URL) == []
    assert visit.errors == []
    visit.close()
