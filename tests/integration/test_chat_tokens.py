"""Web chat tokens stop working once their conversation is gone by retention (on both databases)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from intake.chat_tokens import token_expired
from intake.hours import OpeningHours
from intake.messages import Channel
from intake.privacy import token_issued
from intake.retention import purge
from intake.service import IntakeService
from tests.integration.conftest import ALWAYS_OPEN, Clock, Writer, build_service

RETENTION = timedelta(days=30)


async def expired(service: IntakeService, token: str) -> bool:
    return await token_expired(service.db, service.keys, token, service.clock(), RETENTION)


async def test_a_token_lives_as_long_as_its_conversation_and_not_longer(engine: AsyncEngine) -> None:
    clock = Clock()
    service = build_service(engine, clock, OpeningHours.from_config(ALWAYS_OPEN))
    used, unused = service.keys.new_token(issued=clock()), service.keys.new_token(issued=clock())
    assert service.keys.check_token(used)
    assert token_issued(used) == clock().replace(microsecond=0)
    await Writer(service, used, Channel.WEBCHAT).says("hei")
    assert not await expired(service, used)

    clock.advance(days=29)
    await Writer(service, used, Channel.WEBCHAT).says("er dere der?")
    clock.advance(days=2)
    # Older than the retention period, but the conversation is alive: the token works.
    assert not await expired(service, used)
    # Never used, older than the retention period: nothing to keep it alive.
    assert await expired(service, unused)

    clock.advance(days=29)
    await purge(service.db, clock(), retention_days=30)
    assert await expired(service, used)


async def test_tokens_without_an_issue_time_live_only_with_their_conversation(engine: AsyncEngine) -> None:
    service = build_service(engine, Clock(), OpeningHours.from_config(ALWAYS_OPEN))
    legacy = service.keys.new_token()
    assert token_issued(legacy) is None
    assert await expired(service, legacy)
    await Writer(service, legacy, Channel.WEBCHAT).says("hei")
    assert not await expired(service, legacy)
