"""Run the Alembic migrations from code; there is no alembic.ini.

`upgrade`, `downgrade`, `current` and `revision` are synchronous, because Alembic's commands are:
env.py starts its own event loop with `asyncio.run`. From async code call them in a worker
thread, e.g. `await asyncio.to_thread(upgrade, url)`. `check_drift` is async and runs in the
caller's loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

import migrations
from models.db import create_engine
from models.tables import Base

T = TypeVar("T")

MIGRATIONS_DIR = Path(migrations.__file__).parent


def context_options(dialect_name: str) -> dict[str, Any]:
    """Options shared by env.py and `check_drift`, so both compare the schema the same way."""
    return {
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        "render_as_batch": dialect_name == "sqlite",
        "compare_type": True,
    }


def alembic_config(url: str) -> Config:
    config = Config()
    # ConfigParser interpolates values: a literal % (e.g. in a password) must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head() -> str | None:
    """The newest revision in migrations/versions."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def revision(url: str, message: str, *, rev_id: str | None = None) -> None:
    """Autogenerate a new revision from the difference between `url` and models/tables.py.

    The result is a draft: read it, tidy it and review it before it is committed.
    """
    command.revision(alembic_config(url), message=message, autogenerate=True, rev_id=rev_id)


def current(url: str) -> str | None:
    """The revision the database is at, or None for a database that was never migrated."""
    return run_outside_loop(lambda: _current(url))


async def _current(url: str) -> str | None:
    engine = create_engine(url, pool=False)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
            )
    finally:
        await engine.dispose()


async def check_drift(url: str) -> list[Any]:
    """Differences between the database at `url` and models/tables.py; [] means none."""
    engine = create_engine(url, pool=False)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_compare)
    finally:
        await engine.dispose()


def _compare(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts=context_options(conn.dialect.name))
    return compare_metadata(context, Base.metadata)


def run_outside_loop(make: Callable[[], Awaitable[T]]) -> T:
    """Run `make()` in a fresh event loop; refuse clearly inside a running one."""
    # Checked before the coroutine exists, so a misuse leaves no "never awaited" warning behind.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_awaited(make))
    raise RuntimeError(
        "this migration helper starts its own event loop; from async code call it via "
        "`await asyncio.to_thread(...)`"
    )


async def _awaited(make: Callable[[], Awaitable[T]]) -> T:
    return await make()
