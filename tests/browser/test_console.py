"""The staff console in a real headless Chromium, against the real app on a real socket.

A person writes on the web chat (the real chat.js, or the chat's JSON API); a staff member signs in through
the login form and works in the console (the real console.js): live arrival, claim, reply, the reply back in
the person's chat; person-written markup stays text; sign-in and sign-out; the other actions.

Debian's Chromium (/usr/bin/chromium) is used, never a browser downloaded by Playwright. Without it these
tests are skipped on a laptop and fail in CI (CI=true).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, ConsoleMessage, Dialog, Page, Route, async_playwright, expect
from sqlalchemy import select

from bots.app import WIRING, make_app
from intake.config import load_settings
from intake.storage.models import StatRecordRow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 10_000
STAFF, PASSWORD = "anna", "correct horse battery"
XSS = "<img src=x onerror=window.__xss=1><script>window.__xss=2</script>"

# Open around the clock, and open only while staff are signed in (the default): a person writing while
# a console is open also proves that the staffing check does not lock SQLite (it once did).
CONFIG = """
[staffing]
require_signed_in_staff = true

[hours]
public_holidays = ""

[hours.weekly]
mon = ["00:00-24:00"]
tue = ["00:00-24:00"]
wed = ["00:00-24:00"]
thu = ["00:00-24:00"]
fri = ["00:00-24:00"]
sat = ["00:00-24:00"]
sun = ["00:00-24:00"]

[hours.channel.webchat.weekly]
mon = ["00:00-24:00"]
tue = ["00:00-24:00"]
wed = ["00:00-24:00"]
thu = ["00:00-24:00"]
fri = ["00:00-24:00"]
sat = ["00:00-24:00"]
sun = ["00:00-24:00"]
"""


@dataclass
class Server:
    url: str
    app: web.Application


@dataclass
class PageProblems:
    """Script errors and CSP violations seen by a page: a strict-CSP page must have none."""

    seen: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        page.on("pageerror", lambda error: self.seen.append(f"page error: {error}"))
        page.on("console", self._console)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.seen.append(f"CSP: {message.text}")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    config = tmp_path / "open.toml"
    config.write_text(CONFIG, encoding="utf-8")
    settings = load_settings(
        {
            "HELPLINE_ENV": "development",
            "HELPLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}",
            "HELPLINE_CONFIG": str(config),
        }
    )
    app = make_app(settings)
    # Open event streams end at the next heartbeat; do not wait a minute for them at shutdown.
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        await app[WIRING].accounts.add(STAFF, PASSWORD)
        yield Server(f"http://127.0.0.1:{port}", app)
    finally:
        await runner.cleanup()


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path, server: Server) -> AsyncIterator[Browser]:
    """Depends on `server` so that the browser closes before the server stops."""
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def new_page(browser: Browser, server: Server, problems: PageProblems) -> Page:
    context = await browser.new_context(locale="en-US", base_url=server.url)
    context.set_default_timeout(WAIT_MS)
    return problems.watch(await context.new_page())


async def sign_in(page: Page, name: str, password: str) -> None:
    await page.goto("/staff/login")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def choose(chat: Page, label: str) -> None:
    """Press a button of the newest menu in the person's chat (older menus are disabled)."""
    button = chat.locator("#log button.choice:enabled").filter(has_text=re.compile(f"^{re.escape(label)}$"))
    await button.last.click()


async def write_through_api(server: Server, texts: list[str]) -> None:
    """A person on the web chat, through its JSON API, one message after the other."""
    async with aiohttp.ClientSession(base_url=server.url) as http:
        async with http.post("/chat/api/session", json={}) as response:
            assert response.status == 200
            token = (await response.json())["token"]
        for text in texts:
            body = {"text": text, "client_id": str(uuid.uuid4()), "lang": "en"}
            async with http.post("/chat/api/send", json=body, headers={"X-Chat-Token": token}) as response:
                assert response.status == 202, await response.text()


async def test_a_arrival_appears_live_then_claim_and_reply(browser: Browser, server: Server) -> None:
    problems = PageProblems()
    console = await new_page(browser, server, problems)
    await sign_in(console, STAFF, PASSWORD)
    await expect(console).to_have_url(f"{server.url}/staff")
    await expect(console.locator("#queue-empty")).to_have_text("Nobody is waiting.", timeout=WAIT_MS)
    await expect(console.locator("#queue-list .card")).to_have_count(0)
    # Marks this document: a reload or navigation would lose it.
    await console.evaluate("window.__sameDocument = 42")
    # The staff member is in another tab meanwhile (the page cannot tell this from a real hidden tab).
    await console.evaluate("Object.defineProperty(document, 'hidden', {configurable: true, get: () => true})")

    chat = await new_page(browser, server, problems)
    await chat.goto("/chat")
    await chat.locator("#input").fill("Hello, I need to talk to someone")
    await chat.locator("#input").press("Enter")
    await choose(chat, "English")  # language
    await choose(chat, "Yes")  # safe to write
    await choose(chat, "Skip")  # who is writing
    await choose(chat, "Done")  # topics
    await choose(chat, "Skip")  # age
    await choose(chat, "Skip")  # gender
    await choose(chat, "Skip")  # situation: handed to the staff queue
    # The hand-off says staff will answer; the offer of more information comes after it.
    handed = chat.locator("#log .msg--bot").filter(has_text="staff member will answer")
    await expect(handed).to_have_count(1, timeout=WAIT_MS)

    # The console learns of it through the live stream (the fallback refetch is 60 s away).
    card = console.locator("#queue-list .card")
    await expect(card).to_have_count(1, timeout=WAIT_MS)
    await expect(card).to_contain_text("Web chat")
    await expect(card).to_contain_text("English")
    await expect(card.locator(".wait")).to_contain_text("min")
    await expect(console.locator("#queue-empty")).to_be_hidden()
    assert await console.evaluate("window.__sameDocument") == 42
    # The title counts what arrived while the tab was hidden, until the staff member looks again.
    await expect(console).to_have_title("(1) Staff console")
    await console.evaluate(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    await expect(console).to_have_title("Staff console")

    await card.get_by_role("button", name="Pick up").click()
    await expect(console.locator("#queue-list .card")).to_have_count(0, timeout=WAIT_MS)
    await expect(console.locator("#mine-list .card")).to_have_count(1, timeout=WAIT_MS)
    await expect(console.locator("#queue-empty")).to_be_visible()
    transcript = console.locator("#transcript")
    await expect(transcript.locator(".msg--in").first).to_have_text(
        re.compile("Hello, I need to talk to someone"), timeout=WAIT_MS
    )
    await expect(console.locator("#reply-form")).to_be_visible(timeout=WAIT_MS)

    # The person sees that someone is there.
    await expect(chat.locator("#log .msg--staff").first).to_contain_text("staff member", timeout=WAIT_MS)

    answer = "Hi, I am Anna. I am reading what you wrote. Take your time."
    await console.locator("#reply").fill(answer)
    await console.locator("#reply").press("Control+Enter")
    sent = transcript.locator(".msg--staff").filter(has_text=answer)
    await expect(sent).to_have_count(1, timeout=WAIT_MS)
    await expect(sent.locator(".delivery")).to_have_text(re.compile("Sending|Sent|Delivered"))
    await expect(console.locator("#reply")).to_have_value("")

    # ... and the reply reaches the person's chat page.
    await expect(chat.locator("#log .msg--staff").filter(has_text=answer)).to_have_count(1, timeout=WAIT_MS)
    # Once the chat has fetched it, the console shows it as sent (after the next live nudge or refetch).
    assert await console.evaluate("window.__sameDocument") == 42
    assert problems.seen == []


async def test_b_markup_from_the_person_is_shown_as_text(browser: Browser, server: Server) -> None:
    problems = PageProblems()
    console = await new_page(browser, server, problems)
    await sign_in(console, STAFF, PASSWORD)
    await expect(console.locator("#queue-empty")).to_be_visible(timeout=WAIT_MS)

    # The payload first, then "skip" through the intake into the queue.
    await write_through_api(server, [XSS, *["skip"] * 7])
    card = console.locator("#queue-list .card")
    await expect(card).to_have_count(1, timeout=WAIT_MS)
    await card.locator(".card__open").click()

    body = console.locator("#transcript .msg--in .msg__body").first
    await expect(body).to_have_text(XSS, timeout=WAIT_MS)
    assert await body.get_attribute("dir") == "auto"
    assert await console.locator("#transcript img, #transcript script").count() == 0
    assert await console.evaluate("window.__xss") is None
    # Only opened, not claimed: nothing to reply with yet.
    await expect(console.locator("#claim")).to_be_visible()
    await expect(console.locator("#reply-form")).to_be_hidden()
    assert problems.seen == []


async def test_c_wrong_password_then_sign_in_and_out(browser: Browser, server: Server) -> None:
    problems = PageProblems()
    page = await new_page(browser, server, problems)
    await sign_in(page, STAFF, "not the password at all")
    await expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")
    await expect(page).to_have_url(f"{server.url}/staff/login")
    assert await page.locator("#queue-list").count() == 0
    assert await page.locator('meta[name="csrf-token"]').count() == 0

    await sign_in(page, STAFF, PASSWORD)
    await expect(page.locator("#queue-empty")).to_be_visible(timeout=WAIT_MS)
    queue = await page.request.get("/staff/api/queue")
    assert queue.status == 200

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{server.url}/staff/login")
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    after = await page.request.get("/staff/api/queue")
    assert after.status == 401
    # The console page itself sends a signed-out browser back to the sign-in page.
    await page.goto("/staff")
    await expect(page).to_have_url(f"{server.url}/staff/login")
    assert problems.seen == []


async def test_d_taken_meanwhile_then_note_flag_block_and_close(browser: Browser, server: Server) -> None:
    wiring = server.app[WIRING]
    await wiring.accounts.add("bjorn", PASSWORD)
    problems = PageProblems()
    console = await new_page(browser, server, problems)
    await sign_in(console, STAFF, PASSWORD)
    await expect(console.locator("#queue-empty")).to_be_visible(timeout=WAIT_MS)
    await write_through_api(server, ["The first person", *["skip"] * 7])
    await write_through_api(server, ["The second person", *["skip"] * 7])
    cards = console.locator("#queue-list .card")
    await expect(cards).to_have_count(2, timeout=WAIT_MS)

    # Another staff member picks up the first one just before this console's request arrives.
    first = await cards.first.get_attribute("data-id")
    assert first is not None

    async def someone_else_first(route: Route) -> None:
        await wiring.desk.claim(first, "bjorn")
        await route.continue_()

    claim_url = f"**/staff/api/conversations/{first}/claim"
    await console.route(claim_url, someone_else_first)
    taken = console.locator(f'#queue-list .card[data-id="{first}"]')
    await taken.get_by_role("button", name="Pick up").click()
    await expect(console.locator("#alert")).to_contain_text("someone else", timeout=WAIT_MS)
    await expect(cards).to_have_count(1, timeout=WAIT_MS)
    await console.unroute(claim_url)

    await cards.first.get_by_role("button", name="Pick up").click()
    await expect(console.locator("#reply-form")).to_be_visible(timeout=WAIT_MS)
    await expect(console.locator("#alert")).to_be_empty()
    transcript = console.locator("#transcript")
    await expect(transcript.locator(".msg--in .msg__body").first).to_have_text("The second person")

    await console.locator("#note").fill("Asked about school; check again tomorrow.")
    await console.locator("#note").press("Control+Enter")
    note = transcript.locator(".msg--note")
    await expect(note).to_have_count(1, timeout=WAIT_MS)
    await expect(note).to_contain_text("Asked about school; check again tomorrow.")
    await expect(note).to_contain_text(STAFF)

    # Blocking and flagging sit apart, each confirmed.
    dialogs: list[str] = []

    async def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.accept()

    console.on("dialog", accept)
    await console.locator("#safety-box summary").click()
    await console.get_by_label("Possibly hostile").check()
    badges = console.locator("#conv-badges")
    await expect(badges).to_contain_text("Possibly hostile", timeout=WAIT_MS)

    await console.locator("#block-hours").fill("2")
    await console.locator("#block-form").get_by_role("button", name="Block sender").click()
    await expect(badges).to_contain_text("Block sender:", timeout=WAIT_MS)

    # Close with the final categorisation, prefilled from the intake (everything skipped).
    await console.locator("#close-box summary").click()
    form = console.locator("#close-form")
    await expect(form.locator("#close-age")).to_have_value("not_stated")
    await form.locator("#close-role").select_option("self")
    await form.get_by_label("Marriage against my will").check()
    await form.locator("#close-age").select_option("under_18")
    await form.locator("#close-country").fill("Somalia")
    await form.get_by_label("Follow-up case").check()
    await form.get_by_role("button", name="Close").click()
    await expect(console.locator("#mine-list .card")).to_have_count(0, timeout=WAIT_MS)
    assert dialogs == [
        "Mark this contact as possibly hostile?",
        "Block this sender for 2 hours? They get one neutral line and nothing else.",
        "Close this conversation?",
    ]
    await expect(console.locator("#reply-form")).to_be_hidden()
    await expect(console.locator("#close-box")).to_be_hidden()
    async with wiring.db.uow() as uow:
        records = list(await uow.session.scalars(select(StatRecordRow).where(StatRecordRow.closed_by_staff)))
    assert [(r.role, r.topics, r.age_group, r.gender, r.country, r.follow_up) for r in records] == [
        ("self", ["forced_marriage"], "under_18", "not_stated", "SO", True)
    ]
    assert problems.seen == []


async def test_the_login_page_needs_no_script(browser: Browser, server: Server) -> None:
    """The sign-in form is plain HTML: it works with JavaScript off."""
    context = await browser.new_context(locale="en-US", base_url=server.url, java_script_enabled=False)
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await sign_in(page, STAFF, PASSWORD)
    await expect(page).to_have_url(f"{server.url}/staff")
    await expect(page.get_by_role("heading", name="Staff console")).to_be_visible()
