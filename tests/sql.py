"""The SQL a block of test code sends, and how PostgreSQL plans a statement."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import driver_connection, unit_of_work


class Sent(list[str]):
    """The statements sent, in order, each on one line (runs of whitespace made one space);
    `parameters[i]` what the i-th was sent with."""

    def __init__(self) -> None:
        super().__init__()
        self.parameters: list[Any] = []

    def with_parameters(self) -> Iterator[tuple[str, Any]]:
        return zip(self, self.parameters, strict=True)


@contextmanager
def statements(engine: Any = Engine) -> Iterator[Sent]:
    """Every SQL statement `engine` sends while the block runs (every engine by default; an app's
    `app.state.engine.sync_engine` leaves out what other engines send)."""
    sent = Sent()

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        sent.append(" ".join(statement.split()))
        sent.parameters.append(parameters)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def plans(sessions: async_sessionmaker[AsyncSession], sent: Iterable[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Each statement's plan (`EXPLAIN (FORMAT JSON)`, its root node), planned with sequential scans
    off: the tests' tables are tiny, and PostgreSQL would scan them whatever the indexes."""
    found = []
    async with unit_of_work(sessions) as s:
        await s.execute(text("SET LOCAL enable_seqscan = off"))
        apg = await driver_connection(s)
        for statement, parameters in sent:
            raw = await apg.fetchval("EXPLAIN (FORMAT JSON) " + statement, *(parameters or ()))
            found.append((raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"])
    return found


def index_scans(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """(index, condition) of every index scan in a plan."""
    found = []
    if "Index Name" in plan:
        found.append((plan["Index Name"], plan.get("Index Cond", "")))
    for child in plan.get("Plans", []):
        found.extend(index_scans(child))
    return found


def scanned_tables(plan: dict[str, Any]) -> list[str]:
    """The tables a plan reads by sequential scan."""
    found = [plan["Relation Name"]] if plan.get("Node Type") == "Seq Scan" else []
    for child in plan.get("Plans", []):
        found.extend(scanned_tables(child))
    return found
