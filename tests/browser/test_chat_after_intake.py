"""After the last question, on a phone (390 x 844) in headless Chromium: at most two bubbles (and the queue
notice), the rest offered as buttons, and what the person taps arrives; typed numbers work the same."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from bots.app import WIRING
from intake import content as c
from tests.browser.test_chat_page import ARTIFACTS, choose, phone
from tests.browser.test_console import PASSWORD, STAFF, PageProblems, Server

ANSWERS = ("English", "Yes", "It is about me", "Being taken or left abroad", "Done", "Under 18", "Skip")


async def test_the_last_answer_brings_two_bubbles_and_the_rest_when_tapped(
    browser: Browser, server: Server
) -> None:
    wiring = server.app[WIRING]
    await wiring.accounts.sign_in(STAFF, PASSWORD, "test")  # in hours: the queue
    t = wiring.catalogs.texts("en")
    problems = PageProblems()
    page = await phone(browser, server, problems, "en-GB")
    await page.goto("/chat")
    await page.locator("#input").fill("Hi")
    await page.locator("#input").press("Enter")
    replies = page.locator("#log .msg:not(.msg--me)")
    for label in ANSWERS:
        await expect(page.locator("#log button.choice:enabled").filter(has_text=label).last).to_be_enabled()
        shown = await replies.count()
        await choose(page, label)
        await expect(replies).not_to_have_count(shown)
    await expect(page.locator("#log .msg--me.is-pending")).to_have_count(0)
    before = await replies.count()
    await choose(page, "I want to get away")
    # Every reply of one turn arrives together; the queue's words are among them, old page or new.
    await expect(page.locator("#log")).to_contain_text(t(c.HANDOFF_OPEN))
    await page.wait_for_timeout(500)
    after_last = await replies.count() - before
    assert after_last <= 2, f"{after_last} bubbles after the last question"
    await expect(replies.last).to_have_text(re.compile("^" + re.escape(t(c.MORE_INFO))))
    await expect(replies.nth(before)).to_contain_text(t(c.HANDOFF_OPEN))
    # Nothing of the advice yet; it arrives when the button is tapped.
    abroad = "+47 23 95 00 00"
    await expect(page.locator("#log")).not_to_contain_text(abroad)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "after-intake-offer-en.png"))
    await choose(page, t(c.MORE_ADVICE))
    await expect(replies.last).to_contain_text(abroad)
    await expect(page.locator("#log")).to_contain_text(t(c.UNDER_18_INFO))
    # A typed number picks the offer's group as numbered (3: open day and night).
    await page.locator("#input").fill("3")
    await page.locator("#input").press("Enter")
    await expect(page.locator("#log")).to_contain_text("116 123")
    assert problems.seen == []
