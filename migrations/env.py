"""Alembic environment (async template), configured from code by models/migrate.py.

Alembic commands are synchronous and this module starts its own event loop, so async callers
run them in a worker thread: `await asyncio.to_thread(models.migrate.upgrade, url)`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection, make_url

from models.db import create_engine
from models.migrate import context_options, run_outside_loop
from models.tables import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("sqlalchemy.url is not set; build the config with models.migrate")
    return url


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render our custom column types as plain SQLAlchemy types.

    Revisions must not import models.tables: a revision describes the schema as it was, and
    the mapping module moves on. The DDL these render is identical to what the models emit.
    """
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, sa.Enum) and not obj.native_enum:
        # Non-native enums without a CHECK are just VARCHARs; values live in the code only.
        return f"sa.String(length={obj.length})"
    return False


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (`alembic upgrade --sql`)."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_item=render_item,
        **context_options(make_url(url).get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=render_item,
        **context_options(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    # No pool: the engine lives only for this run. models.db installs the SQLite pragmas
    # (foreign keys, WAL) so migrations see the database exactly as the service does.
    engine = create_engine(_url(), pool=False)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    run_outside_loop(run_async_migrations)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
