"""Building blocks for per-request loaders: one SQL statement per batch, results in key order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select
from strawberry.dataloader import DataLoader

from models.db import Database

K = TypeVar("K")
R = TypeVar("R")


def rows_by_key(
    db: Database, build: Callable[[list[Any]], Select[Any]], key_of: Callable[[Any], Any]
) -> DataLoader[Any, Any]:
    """Each key maps to at most one row (or None)."""

    async def load(keys: Sequence[Any]) -> list[Any]:
        async with db.read() as session:
            rows = (await session.execute(build(list(keys)))).scalars().all()
        found = {key_of(r): r for r in rows}
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)


def row_lists_by_key(
    db: Database,
    build: Callable[[list[Any]], Select[Any]],
    key_of: Callable[[Any], Any],
    *,
    scalars: bool = True,
) -> DataLoader[Any, list[Any]]:
    """Each key maps to a list of rows, in the statement's order."""

    async def load(keys: Sequence[Any]) -> list[list[Any]]:
        async with db.read() as session:
            result = await session.execute(build(list(keys)))
            rows = result.scalars().all() if scalars else result.all()
        grouped: dict[Any, list[Any]] = defaultdict(list)
        for r in rows:
            grouped[key_of(r)].append(r)
        return [grouped.get(k, []) for k in keys]

    return DataLoader(load_fn=load)
