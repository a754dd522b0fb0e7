"""Long work in event-loop turns: a batch per step, the loop running between two.

Home Assistant runs its callbacks and task steps one at a time: thousands of
entities added, devices made or states written in one step would hold every
other for as long. Adding, making and writing go a batch per turn instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence


async def in_turns[T](items: Sequence[T], size: int) -> AsyncIterator[Sequence[T]]:
    """Yield ``items`` ``size`` at a time, letting the event loop run between two."""
    for start in range(0, len(items), size):
        if start:
            await asyncio.sleep(0)
        yield items[start : start + size]
