"""A member's live streams end at once when their session does: at sign-out and when the member is
disabled, on a busy line too (where events keep coming and the heartbeat's session check never came)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from tests.console.conftest import Console
from tests.console.staff_client import END, Event, EventStream, Staff

# Far below the 15 s heartbeat: the stream must not wait for its next session check.
AT_ONCE = 3.0


@contextlib.asynccontextmanager
async def busy_line(staff: Staff, conversation: str) -> AsyncIterator[None]:
    """A colleague writing notes on a conversation all the time, so a stream always has a change to send
    (staff actions, unlike a person's messages, meet no rate limit)."""

    async def write() -> None:
        while True:
            await staff.act(conversation, "notes", {"text": "still here"})
            await asyncio.sleep(0.05)

    task = asyncio.create_task(write())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until_signed_out(stream: EventStream) -> None:
    """The stream ends with `signed_out` within AT_ONCE, whatever changes come before."""
    async with asyncio.timeout(AT_ONCE):
        while (event := await stream.next()).name == "change":
            pass
    assert event == Event("signed_out", {})
    assert await stream.next() == END


@pytest.mark.parametrize("how", ["sign-out", "disabled"])
async def test_a_members_streams_end_at_once_on_a_busy_line(console: Console, how: str) -> None:
    anna = await console.signed_in("anna")
    bjorn = await console.signed_in("bjorn")
    other_tab = await Staff(console.client, "anna").sign_in()
    streams = [await anna.stream(), await other_tab.stream()]
    colleague = await bjorn.stream()
    _, conversation = await console.queued()
    async with busy_line(bjorn, conversation):
        assert await streams[0].change() is not None
        if how == "sign-out":
            await anna.sign_out()
            # Signing out ends this session's stream; the other tab's session is another one.
            await until_signed_out(streams[0])
            for _ in range(3):
                assert (await streams[1].next()).name == "change"
        else:
            await console.wiring.accounts.set_disabled("anna")
            for stream in streams:
                await until_signed_out(stream)
        # A colleague's stream goes on.
        assert (await colleague.next()).name == "change"
