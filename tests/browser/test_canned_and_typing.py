"""In a real headless Chromium, in Norwegian: an administrator rewords a canned reply and a staff member
finds the new wording in a conversation; the web chat's typing indicator both ways, the person on a phone
(390 x 844): the console shows "Personen skriver…", the person's chat shows "Skriver…", and each goes
once the typing stops. Screenshots are kept in tests/artifacts/ for a person to look at.

The server and browser are the console tests' own (tests/browser/test_console.py).
"""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from bots.app import WIRING
from tests.browser.test_chat_page import phone
from tests.browser.test_console import PASSWORD, WAIT_MS, PageProblems, Server
from tests.browser.test_console_desk import ARTIFACTS, Person, norwegian_console

expect.set_options(timeout=WAIT_MS)
ADMIN = "olga"
NEW_WORDING = "Hei! Jeg har lest alt du skrev, og jeg er her nå."
# Signals every 3 s, shown 6 s after the last one, and the chat's poll looks again every 2 s: a bound.
GONE_MS = 20_000


async def test_an_administrator_rewords_a_canned_reply_and_staff_see_it(
    browser: Browser, server: Server
) -> None:
    await server.app[WIRING].accounts.add(ADMIN, PASSWORD, "admin")
    problems = PageProblems()
    admin = await norwegian_console(browser, server, problems, ADMIN)
    await admin.locator("#canned-link").click()
    await expect(admin).to_have_title("Ferdige svar")
    reading = admin.locator('#canned-nb section[data-key="reading"]')
    await expect(reading.locator(".canned-reply__standard")).to_contain_text(
        "Takk for at du skriver. Jeg leser meldingene dine nå."
    )
    await expect(admin.locator("#canned-ar")).to_be_attached()  # every language of the catalogs
    await reading.locator("textarea").fill(NEW_WORDING)
    await reading.get_by_role("button", name="Lagre").click()
    await expect(reading.locator(".canned-reply__edited")).to_have_text(f"Endret av {ADMIN}")
    await expect(reading.locator("textarea")).to_have_value(NEW_WORDING)
    await expect(reading.get_by_role("button", name="Bruk standardteksten")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await reading.scroll_into_view_if_needed()
    await admin.screenshot(path=str(ARTIFACTS / "canned-admin-nb.png"))

    staff = await norwegian_console(browser, server, problems)
    assert await staff.locator("#canned-link").count() == 0  # not for staff without the admin role
    await Person(server).write("Hei, jeg trenger hjelp", *["hopp over"] * 7)
    card = staff.locator("#queue-list .card")
    await expect(card).to_have_count(1)
    await card.first.get_by_role("button", name="Ta samtalen").click()
    await staff.locator("#canned-box summary").click()
    choice = staff.locator("#canned-list .canned__button").first
    await expect(choice).to_have_text(NEW_WORDING)
    await choice.click()
    await expect(staff.locator("#reply")).to_have_value(NEW_WORDING)
    await staff.locator("#canned-box summary").click()
    await staff.screenshot(path=str(ARTIFACTS / "canned-staff-nb.png"))
    assert problems.seen == []


async def test_typing_shows_both_ways_and_goes_when_it_stops(browser: Browser, server: Server) -> None:
    problems = PageProblems()
    console = await norwegian_console(browser, server, problems)
    person = await phone(browser, server, problems, "nb-NO")
    await person.goto("/chat")
    for text in ("Hei, jeg trenger hjelp", *["hopp over"] * 7):
        await person.locator("#input").fill(text)
        await person.locator("#input").press("Enter")
    await expect(person.locator("#log .msg--me.is-pending")).to_have_count(0)
    card = console.locator("#queue-list .card")
    await expect(card).to_have_count(1)
    await card.first.get_by_role("button", name="Ta samtalen").click()
    await expect(console.locator("#reply-form")).to_be_visible()

    # The person types: the staff member's open conversation says so, and stops saying it after.
    indicator = console.locator("#person-typing")
    await expect(indicator).to_be_empty()
    await person.locator("#input").press_sequentially("Jeg er redd", delay=50)
    await expect(indicator).to_have_text("Personen skriver…")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await console.screenshot(path=str(ARTIFACTS / "typing-console-nb.png"))
    await expect(indicator).to_be_empty(timeout=GONE_MS)

    # The staff member types: the person's chat shows a neutral "Skriver…" (never a name), then not.
    writing = person.locator("#typing")
    await expect(writing).to_be_empty()
    await console.locator("#reply").press_sequentially("Hei, jeg heter", delay=50)
    await expect(writing).to_have_text("Skriver…")
    await person.screenshot(path=str(ARTIFACTS / "typing-chat-nb-phone.png"))
    await expect(writing).to_be_empty(timeout=GONE_MS)

    # Typing again, then sending: the reply arrives and "Skriver…" is gone with it.
    await console.locator("#reply").press_sequentially(" Anna.", delay=50)
    await expect(writing).to_have_text("Skriver…")
    await console.locator("#reply").press("Control+Enter")
    await expect(person.locator("#log .msg--staff").last).to_have_text("Hei, jeg heter Anna.")
    await expect(writing).to_be_empty()
    # Nothing of the typing became a message: the reply is there once, and no indicator line in between.
    await expect(console.locator("#transcript .msg").filter(has_text="Hei, jeg heter")).to_have_count(1)
    await expect(person.locator("#log .msg").filter(has_text=re.compile("^Skriver…$"))).to_have_count(0)
    assert problems.seen == []
