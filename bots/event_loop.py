"""The event loop `helpline serve` runs on: uvloop where it is installed (a dependency on Linux), else
asyncio's own. `HELPLINE_EVENT_LOOP=asyncio` keeps asyncio's loop (to compare, or to rule uvloop out).

uvloop runs the loop's own work (the selector, callbacks, timers, transports) in C: in the benchmark,
asyncio's loop and its wake-ups were a tenth of the service's Python time. Nothing in the service depends
on which loop runs it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

VARIABLE = "HELPLINE_EVENT_LOOP"


def new_event_loop(env: Mapping[str, str]) -> tuple[asyncio.AbstractEventLoop, str]:
    """A new loop and its name ("uvloop" or "asyncio")."""
    wanted = env.get(VARIABLE, "").strip().lower() or "uvloop"
    if wanted not in ("uvloop", "asyncio"):
        raise ValueError(f"{VARIABLE} must be uvloop or asyncio")
    if wanted == "uvloop":
        try:
            import uvloop
        except ImportError:
            pass  # not installed (not Linux, or PyPy): asyncio's loop does the same work
        else:
            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
            return loop, "uvloop"
    return asyncio.new_event_loop(), "asyncio"
