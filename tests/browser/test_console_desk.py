"""The staff member's desk in a real headless Chromium, in Norwegian: my conversations first, with the last
message's time, a preview and unread counts; a title badge; the console's own words (system lines and
channel names too) from its catalog; dangerous actions apart and confirmed, closing unread asked twice.

The server and browser are the console tests' own (tests/browser/test_console.py).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import aiohttp
from playwright.async_api import Browser, Dialog, Page, ViewportSize, expect

from bots.app import WIRING
from tests.browser.test_console import PASSWORD, STAFF, WAIT_MS, PageProblems, Server

# A claim refetches the queue and the transcript: on a busy 2-core machine that can take more than 5 s.
expect.set_options(timeout=WAIT_MS)
DESK = ViewportSize(width=1280, height=900)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
HIDE = "Object.defineProperty(document, 'hidden', {configurable: true, get: () => true})"
SHOW = (
    "Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});"
    "document.dispatchEvent(new Event('visibilitychange'))"
)


class Person:
    """A person on the web chat, through its JSON API."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.token = ""

    async def write(self, *texts: str) -> None:
        async with aiohttp.ClientSession(base_url=self.server.url) as http:
            if not self.token:
                async with http.post("/chat/api/session", json={}) as response:
                    self.token = (await response.json())["token"]
            for text in texts:
                body = {"text": text, "client_id": str(uuid.uuid4()), "lang": "nb"}
                async with http.post(
                    "/chat/api/send", json=body, headers={"X-Chat-Token": self.token}
                ) as response:
                    assert response.status == 202, await response.text()


async def norwegian_console(
    browser: Browser, server: Server, problems: PageProblems, name: str = STAFF
) -> Page:
    context = await browser.new_context(locale="nb-NO", base_url=server.url, viewport=DESK)
    context.set_default_timeout(WAIT_MS)
    page = problems.watch(await context.new_page())
    await page.goto("/staff/login")
    await page.locator("#name").fill(name)
    await page.locator("#password").fill(PASSWORD)
    await page.get_by_role("button", name="Logg inn").click()
    await expect(page.locator("#queue-empty")).to_be_visible()
    return page


async def test_my_conversations_first_with_unread_counts_previews_and_norwegian_words(
    browser: Browser, server: Server
) -> None:
    problems = PageProblems()
    console = await norwegian_console(browser, server, problems)
    first, second = Person(server), Person(server)
    await first.write("Hei, jeg trenger hjelp", *["hopp over"] * 7)
    await second.write("Jeg vil snakke med noen", *["hopp over"] * 7)
    queue = console.locator("#queue-list .card")
    await expect(queue).to_have_count(2)
    await expect(queue.first).to_contain_text("Nettchat")
    # Nobody has answered yet: every card counts the person's messages.
    await expect(queue.first.locator(".card__unread")).to_have_text(re.compile(r"^\d+ uleste$"))

    first_id = await queue.first.get_attribute("data-id")
    await queue.first.get_by_role("button", name="Ta samtalen").click()
    transcript = console.locator("#transcript")
    await expect(transcript.locator(".msg--system")).to_contain_text(f"Tatt av {STAFF}")
    await expect(transcript.locator(".msg--in .msg__who").first).to_have_text("Personen")
    await console.locator("#reply").fill("Hei, jeg heter Anna.")
    await console.locator("#reply").press("Control+Enter")
    await expect(transcript.locator(".msg--staff")).to_have_count(1)
    await console.locator("#queue-list .card").first.get_by_role("button", name="Ta samtalen").click()
    mine = console.locator("#mine-list .card")
    await expect(mine).to_have_count(2)

    # My conversations come first, above the queue, and say when each last moved and what was said.
    mine_box = await console.locator("#mine-list").bounding_box()
    queue_box = await console.locator("#queue-list").bounding_box()
    assert mine_box is not None
    assert queue_box is not None
    assert mine_box["y"] < queue_box["y"]
    answered = console.locator(f'#mine-list .card[data-id="{first_id}"]')
    await expect(answered.locator(".card__preview")).to_have_text("Svar: Hei, jeg heter Anna.")
    await expect(answered.locator(".card__time")).to_have_text(re.compile(r"^\d\d[:.]\d\d$"))
    await expect(answered.locator(".card__unread")).to_have_count(0)

    # The staff member looks at the second conversation; the first person writes again meanwhile.
    await first.write("Er du der?")
    await expect(answered.locator(".card__unread")).to_have_text("1 uleste")
    await expect(answered.locator(".card__preview")).to_have_text("Er du der?")
    await expect(console).to_have_title("(1) Saksbehandlerkonsoll")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await console.screenshot(path=str(ARTIFACTS / "console-unread.png"))

    # Opened while the tab is away, it still counts as unread: closing asks twice.
    dialogs: list[str] = []

    async def decline(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    console.on("dialog", decline)
    await console.evaluate(HIDE)
    await answered.locator(".card__open").click()
    await expect(transcript.locator(".msg--in").last).to_contain_text("Er du der?")
    await console.locator("#close-box summary").click()
    await console.locator("#close-form").get_by_role("button", name="Avslutt").click()
    assert dialogs == ["Samtalen har meldinger du ikke har sett. Vil du likevel avslutte den?"]
    await expect(mine).to_have_count(2)  # declined: still open

    # Back on the tab, the open conversation's messages are seen: no badge, no second question.
    await console.evaluate(SHOW)
    await expect(answered.locator(".card__unread")).to_have_count(0)
    await expect(console).to_have_title("Saksbehandlerkonsoll")
    assert problems.seen == []


async def test_dangerous_actions_come_last_apart_and_confirmed(browser: Browser, server: Server) -> None:
    problems = PageProblems()
    console = await norwegian_console(browser, server, problems)
    await Person(server).write("Hei", *["hopp over"] * 7)
    await console.locator("#queue-list .card").first.get_by_role("button", name="Ta samtalen").click()
    await expect(console.locator("#reply-form")).to_be_visible()

    # In keyboard order: the everyday actions, then closing, then blocking and flagging, folded away.
    order = await console.locator(
        "#actions button:visible, #actions summary:visible, #actions input:visible"
    ).evaluate_all("nodes => nodes.map(n => n.id || n.parentElement.id)")
    assert order == ["release", "transfer-box", "close-box", "safety-box"]
    await expect(console.locator("#block")).to_be_hidden()
    await expect(console.locator("#hostile")).to_be_hidden()

    dialogs: list[str] = []

    async def decline(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    console.on("dialog", decline)
    await console.locator("#safety-box summary").click()
    await console.locator("#block").click()
    await console.get_by_label("Mulig fiendtlig").click()
    assert dialogs == [
        "Blokkere denne avsenderen i 24 timer? Avsenderen får én nøytral linje og ikke noe mer.",
        "Merke denne kontakten som mulig fiendtlig?",
    ]
    # Declined: nothing happened.
    await expect(console.get_by_label("Mulig fiendtlig")).not_to_be_checked()
    await expect(console.locator("#conv-badges")).not_to_contain_text("Blokker")
    await expect(console.locator("#conv-badges")).not_to_contain_text("fiendtlig")

    # Desktop notifications: one button, asked once.
    notify = console.locator("#notify")
    await expect(notify).to_be_visible()
    await notify.click()
    await expect(notify).to_be_hidden()
    assert problems.seen == []


async def test_keyboard_shortcuts_and_their_help(browser: Browser, server: Server) -> None:
    problems = PageProblems()
    console = await norwegian_console(browser, server, problems)
    await Person(server).write("Hei", *["hopp over"] * 7)
    await expect(console.locator("#queue-list .card")).to_have_count(1)

    await console.keyboard.press("?")
    help_box = console.get_by_role("dialog", name="Hurtigtaster")
    await expect(help_box).to_be_visible()
    await expect(help_box).to_contain_text("Åpne neste samtale som venter")
    await console.keyboard.press("Escape")
    await expect(help_box).to_be_hidden()

    await console.keyboard.press("n")
    await expect(console.locator("#claim")).to_be_visible()
    await console.keyboard.press("c")
    await expect(console.locator("#reply-form")).to_be_visible()
    await expect(console.locator("#mine-list .card")).to_have_count(1)
    await console.locator("#conv-title").focus()
    await console.keyboard.press("r")
    await expect(console.locator("#reply")).to_be_focused()
    await console.keyboard.type("xr")  # typing is typing: no shortcut fires in the reply box
    await expect(console.locator("#reply")).to_have_value("xr")
    await expect(console.locator("#close-box")).not_to_have_attribute("open", "")
    await console.locator("#conv-title").focus()
    await console.keyboard.press("x")
    await expect(console.locator("#close-box")).to_have_attribute("open", "")
    assert problems.seen == []


async def test_administrators_read_the_audit_log_in_the_console(browser: Browser, server: Server) -> None:
    await server.app[WIRING].accounts.add("ada", PASSWORD, "admin")
    problems = PageProblems()
    console = await norwegian_console(browser, server, problems)
    await Person(server).write("Hei", *["hopp over"] * 7)
    await console.locator("#queue-list .card").first.get_by_role("button", name="Ta samtalen").click()
    await expect(console.locator("#reply-form")).to_be_visible()
    # Staff without the admin role have no audit log to open.
    await expect(console.locator("#audit-box")).to_have_count(0)

    admin = await norwegian_console(browser, server, problems, name="ada")
    await admin.get_by_text("Tilgangslogg").click()
    rows = admin.locator("#audit-rows tr")
    await expect(rows.filter(has_text="Tok samtalen").filter(has_text=STAFF)).to_have_count(1)
    await expect(rows.filter(has_text="Åpnet samtalen").filter(has_text=STAFF)).to_have_count(1)
    assert problems.seen == []


async def test_search_opens_the_conversation_found(browser: Browser, server: Server) -> None:
    problems = PageProblems()
    console = await norwegian_console(browser, server, problems)
    await Person(server).write("Passet mitt er tatt", *["hopp over"] * 7)
    await Person(server).write("Hei", *["hopp over"] * 7)
    await expect(console.locator("#queue-list .card")).to_have_count(2)
    await console.get_by_label("Søk i samtaler").fill("PASSET")
    await console.get_by_label("Søk i samtaler").press("Enter")
    results = console.locator("#search-results button")
    await expect(results).to_have_count(1)
    await expect(results).to_contain_text("Passet mitt er tatt")
    await results.click()
    await expect(console.locator("#transcript .msg--in").first).to_contain_text("Passet mitt er tatt")

    await console.get_by_label("Søk i samtaler").fill("finnes ikke")
    await console.get_by_label("Søk i samtaler").press("Enter")
    await expect(console.locator("#search-none")).to_have_text("Fant ingenting.")
    await expect(results).to_have_count(0)
    assert problems.seen == []
