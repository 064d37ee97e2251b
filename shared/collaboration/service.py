"""(being written) Collaboration requests and their occurrences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession


async def open_due_occurrences(session: AsyncSession, *, now: datetime, public_url: str, batch_size: int = 100) -> int:
    """Open the occurrences of recurring requests whose working day has begun; returns how many."""
    return 0
