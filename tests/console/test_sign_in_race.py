"""The sign-in limit holds under parallel tries: each attempt is recorded before its password is checked."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.console.conftest import Console

PARALLEL = 40


async def test_forty_parallel_wrong_passwords_let_at_most_five_through(console: Console) -> None:
    anna = await console.staff("anna")
    answers = await asyncio.gather(*(anna.login("not the password") for _ in range(PARALLEL)))
    statuses = Counter(answer.status for answer in answers)
    assert set(statuses) <= {401, 429}, statuses
    # Five failures are allowed, as one after another; every further try is refused unchecked.
    assert statuses[401] <= console.wiring.accounts.max_failures, statuses
    assert statuses[429] >= PARALLEL - console.wiring.accounts.max_failures, statuses
    # Tries refused unchecked are not failures: the rest of the five can still be spent, one at a time,
    # and then even the right password is refused, as after five failures in a row.
    for _ in range(console.wiring.accounts.max_failures - statuses[401]):
        assert (await anna.login("not the password")).status == 401
    assert (await anna.login("not the password")).status == 429
    assert (await anna.login()).status == 429
