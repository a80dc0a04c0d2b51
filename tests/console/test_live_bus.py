"""The live bus under a burst: nudges wait in a bounded line for their NOTIFY, never one task each."""

from __future__ import annotations

import asyncio

from bots.console.live import MAX_PENDING, QUEUE_SIZE, LiveBus


async def test_a_burst_of_changes_stays_bounded_and_ends_with_the_newest(database_url: str) -> None:
    bus = LiveBus(database_url)
    await bus.start()
    try:
        queue = bus.subscribe()
        burst = [f"conversation-{n}" for n in range(1000)]
        for conversation in burst:  # faster than any connection NOTIFYs: no await in between
            bus.publish(conversation)
        if bus.shared:
            assert bus.pending <= MAX_PENDING
        received: list[str | None] = []
        async with asyncio.timeout(10):  # a guard against hanging, not a timing assertion
            while not received or received[-1] != burst[-1]:
                received.append((await queue.get())["conversation"])
    finally:
        await bus.stop()
    if bus.shared:
        # Far behind, one id-less nudge (the console refetches everything) stood for the dropped ones.
        assert None in received
        assert len(received) < len(burst)
    else:
        assert received == burst[-QUEUE_SIZE:]  # in process: the stream's own queue keeps the newest
