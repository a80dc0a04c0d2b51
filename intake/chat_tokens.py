"""When a web chat token stops working: once its conversation is gone by retention.

The token is the person's only address and sits in the browser tab. Kept working forever, an old tab (or
anyone who copied the token) could go on reading and writing as that person long after the conversation
was deleted. A token is alive while it is younger than the retention period or while a conversation of its
own is still stored (which retention deletes that long after the last sign of life or the closing)."""

from __future__ import annotations

from datetime import datetime, timedelta

from intake.messages import Channel, Contact
from intake.privacy import Keys, token_issued
from intake.storage.uow import Database


async def token_expired(db: Database, keys: Keys, token: str, now: datetime, retention: timedelta) -> bool:
    """For a token that passed `Keys.check_token`. Young tokens cost no query."""
    issued = token_issued(token)
    if issued is not None and now - issued < retention:
        return False
    pseudonym = keys.pseudonym(Contact(Channel.WEBCHAT, token))
    async with db.uow() as uow:
        return not await uow.conversations.any_for_pseudonym(pseudonym)
