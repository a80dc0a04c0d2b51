"""WriteTurns: SQLite's writers in one process take turns in arrival order, urgent ones first."""

from __future__ import annotations

import asyncio

import pytest

from intake.storage.uow import WriteTurns


async def _queued(turns: WriteTurns, order: list[str], name: str, urgent: bool = False) -> None:
    await turns.acquire(urgent)
    order.append(name)
    await asyncio.sleep(0)
    turns.release()


async def test_writers_go_in_arrival_order_with_urgent_ones_first() -> None:
    turns = WriteTurns(timeout=10)
    await turns.acquire()  # someone is writing
    order: list[str] = []
    waiting = [
        asyncio.create_task(_queued(turns, order, "webhook-1")),
        asyncio.create_task(_queued(turns, order, "webhook-2")),
        asyncio.create_task(_queued(turns, order, "outbox", urgent=True)),
        asyncio.create_task(_queued(turns, order, "webhook-3")),
    ]
    await asyncio.sleep(0)  # all four are queued now
    turns.release()
    await asyncio.wait_for(asyncio.gather(*waiting), timeout=10)
    assert order == ["outbox", "webhook-1", "webhook-2", "webhook-3"]
    await asyncio.wait_for(turns.acquire(), timeout=1)  # free again: taken at once


async def test_a_turn_not_given_in_time_fails_clearly_and_does_not_block_the_queue() -> None:
    turns = WriteTurns(timeout=0.05)
    await turns.acquire()
    with pytest.raises(TimeoutError, match="database stayed busy"):
        await turns.acquire()
    order: list[str] = []
    later = asyncio.create_task(_queued(turns, order, "later"))
    await asyncio.sleep(0)
    turns.release()
    await asyncio.wait_for(later, timeout=10)
    assert order == ["later"]


async def test_a_writer_cancelled_as_it_is_handed_the_turn_passes_it_on() -> None:
    turns = WriteTurns(timeout=10)
    await turns.acquire()
    cancelled = asyncio.create_task(turns.acquire())
    order: list[str] = []
    after = asyncio.create_task(_queued(turns, order, "after"))
    await asyncio.sleep(0)
    turns.release()  # hands the turn to `cancelled`
    cancelled.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await asyncio.wait_for(after, timeout=10)
    assert order == ["after"]
