"""Over a limit, the real chat page (chat.js in Chromium) shows the polite answer in the person's language and
puts their text back in the box: never a bare error page, nothing lost."""

from __future__ import annotations

import aiohttp
from playwright.async_api import Browser, expect

from bots.app import WIRING
from bots.channels.webchat.chat import BUSY
from tests.browser.test_console import (  # noqa: F401 - the fixtures, used by name
    PageProblems,
    Server,
    browser,
    chromium,
    new_page,
    server,
)


async def test_the_page_shows_the_busy_answer_and_keeps_the_text(browser: Browser, server: Server) -> None:  # noqa: F811
    wiring = server.app[WIRING]
    # This address has opened all the chats it may this minute (a flood from it, say).
    async with aiohttp.ClientSession(base_url=server.url) as http:
        for _ in range(wiring.webchat.limits.sessions_per_minute):
            async with http.post("/chat/api/session") as response:
                assert response.status == 200
    problems = PageProblems()
    page = await new_page(browser, server, problems)
    await page.goto("/chat?lang=nb")
    await page.locator("#input").fill("Hei, jeg trenger hjelp")
    await page.locator("#input").press("Enter")
    busy = wiring.catalogs.texts("nb")(BUSY)
    await expect(page.locator("#notice")).to_contain_text(busy.splitlines()[0])
    assert await page.locator("#notice").text_content() == busy
    await expect(page.locator("#input")).to_have_value("Hei, jeg trenger hjelp")
    await expect(page.locator("#log .msg--me")).to_have_count(0)
    assert problems.seen == []
