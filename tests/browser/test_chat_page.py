"""The person's side of the web chat in a real headless Chromium on a phone-sized screen (390 x 844): what
the page says before the first question, in the language it shows.

The server, the browser and the page checks are the console tests' own (tests/browser/test_console.py).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, Page, ViewportSize, expect

from bots.app import WIRING
from intake.hours import default_hours
from tests.browser.test_console import PASSWORD, STAFF, WAIT_MS, PageProblems, Server

OSLO = ZoneInfo("Europe/Oslo")
SUNDAY_EVENING = datetime(2026, 11, 29, 20, 0, tzinfo=OSLO)
PHONE = ViewportSize(width=390, height=844)


async def phone(browser: Browser, server: Server, problems: PageProblems, locale: str) -> Page:
    context = await browser.new_context(
        locale=locale,
        base_url=server.url,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(WAIT_MS)
    return problems.watch(await context.new_page())


async def test_the_landing_says_open_or_closed_and_112_and_follows_the_line(
    browser: Browser, server: Server
) -> None:
    landing = server.app[WIRING].webchat.landing
    landing.poll_seconds = 1
    landing.cache_seconds = 0
    problems = PageProblems()
    page = await phone(browser, server, problems, "nb-NO")
    await page.goto("/chat")
    state = page.locator("#line-state")
    # Within the hours, but nobody is signed in to the console: closed, and no time is promised.
    await expect(state).to_have_text(
        "Vi har stengt nå, og ingen leser meldinger akkurat nå. Du kan legge igjen en melding, "
        "og vi svarer så snart vi kan."
    )
    await expect(page.locator("#line-emergency")).to_contain_text("112")
    # Before the first question: nothing has been sent, the log is empty.
    await expect(page.locator("#log .msg")).to_have_count(0)

    # A staff member signs in while the page is open: the page says so by itself.
    signed_in = await server.app[WIRING].accounts.sign_in(STAFF, PASSWORD, "test")
    assert signed_in.token
    await expect(state).to_have_text("Vi har åpent nå.", timeout=WAIT_MS)
    await expect(state).to_have_class("line-status__state is-open")

    # Sunday evening by the helpline's own hours (the chat opens Monday and Friday 09:00-15:30).
    service = server.app[WIRING].service
    service.hours = default_hours()
    service.clock = lambda: SUNDAY_EVENING
    await expect(state).to_have_text(
        "Vi har stengt nå og åpner mandag 09:00. Du kan legge igjen en melding, men ingen leser den før da.",
        timeout=WAIT_MS,
    )
    await expect(page.locator("#line-emergency")).to_have_text(
        "Er du i fare nå? Ring 112 (politi) eller 113 (ambulanse)."
    )
    assert problems.seen == []
