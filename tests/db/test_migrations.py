"""The Alembic revisions build exactly the schema of models/tables.py, on either backend.

The backend comes from MICROCRED_DATABASE_URL (SQLite when unset). Every test makes its own
empty database: a file in tmp_path for SQLite, a freshly created, uniquely named database on
the configured PostgreSQL server (dropped afterwards). The configured database itself is never
touched, so these tests don't depend on or disturb the shared fixtures.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from models.db import create_engine
from models.migrate import check_drift, current, downgrade, head, upgrade
from models.tables import Base

VERSION_TABLE = "alembic_version"


@asynccontextmanager
async def _empty_database(tmp_path: Path) -> AsyncIterator[str]:
    """Yield the URL of a new, empty database on the configured backend."""
    configured = os.environ.get("MICROCRED_DATABASE_URL", "")
    backend = make_url(configured).get_backend_name() if configured else "sqlite"
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}"
        return
    if backend != "postgresql":
        raise ValueError(f"unsupported backend for MICROCRED_DATABASE_URL: {backend}")

    # asyncpg whatever driver the URL names: this test only has async drivers to hand.
    server = make_url(configured).set(drivername="postgresql+asyncpg")
    name = f"microcred_migrations_{uuid.uuid4().hex[:12]}"
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                # FORCE: a connection leaked by a failing test must not keep the database alive.
                await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture
async def empty_database_url(tmp_path: Path) -> AsyncIterator[str]:
    async with _empty_database(tmp_path) as url:
        yield url


def _snapshot(conn: Connection) -> dict[str, Any]:
    """Everything reflection reports about the tables, in a comparable form."""
    inspector = sa.inspect(conn)

    def by_name(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(items, key=lambda item: str(item.get("name")))

    tables: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        if table == VERSION_TABLE:
            continue
        tables[table] = {
            "columns": [
                {**column, "type": str(column["type"])} for column in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table),
            "foreign_keys": by_name(inspector.get_foreign_keys(table)),
            "unique": by_name(inspector.get_unique_constraints(table)),
            "indexes": by_name(inspector.get_indexes(table)),
        }
    return tables


async def _read(url: str, fn: Any) -> Any:
    engine = create_engine(url, pool=False)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def _version_rows(conn: Connection) -> list[str]:
    return list(conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


async def test_upgrade_head_on_an_empty_database_leaves_no_drift(empty_database_url: str) -> None:
    url = empty_database_url
    assert await asyncio.to_thread(current, url) is None

    await asyncio.to_thread(upgrade, url)

    assert await asyncio.to_thread(current, url) == head()
    assert await check_drift(url) == []


async def test_upgrading_twice_is_a_no_op(empty_database_url: str) -> None:
    url = empty_database_url
    await asyncio.to_thread(upgrade, url)
    schema = await _read(url, _snapshot)
    versions = await _read(url, _version_rows)

    await asyncio.to_thread(upgrade, url)

    assert await _read(url, _snapshot) == schema
    assert await _read(url, _version_rows) == versions == [head()]


async def test_migrated_schema_equals_create_all(tmp_path: Path) -> None:
    # compare_metadata ignores server-side defaults, so it would miss e.g. an id that lost its
    # SERIAL/BIGSERIAL on PostgreSQL; a reflection snapshot against create_all catches those.
    async with _empty_database(tmp_path) as migrated, _empty_database(tmp_path) as created:
        await asyncio.to_thread(upgrade, migrated)
        engine = create_engine(created, pool=False)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
        finally:
            await engine.dispose()

        expected = await _read(created, _snapshot)
        assert set(expected) == set(Base.metadata.tables)
        assert await _read(migrated, _snapshot) == expected


async def test_downgrade_to_base_removes_every_table(empty_database_url: str) -> None:
    url = empty_database_url
    await asyncio.to_thread(upgrade, url)

    await asyncio.to_thread(downgrade, url, "base")

    assert await _read(url, _snapshot) == {}
    assert await asyncio.to_thread(current, url) is None
    await asyncio.to_thread(upgrade, url)
    assert await check_drift(url) == []


async def test_sync_helpers_refuse_to_run_inside_the_event_loop(empty_database_url: str) -> None:
    # Called directly from a coroutine they would need a second loop in this thread.
    with pytest.raises(RuntimeError, match="to_thread"):
        upgrade(empty_database_url)
    with pytest.raises(RuntimeError, match="to_thread"):
        current(empty_database_url)


async def test_feed_positions_are_backfilled_per_district_in_id_order(
    empty_database_url: str,
) -> None:
    """Revision 0003 numbers feed items written before it existed, per district."""
    from sqlalchemy import text

    from models.db import create_engine

    await asyncio.to_thread(upgrade, empty_database_url, "0002")
    engine = create_engine(empty_database_url, pool=False)
    now = datetime(2026, 9, 1, 12, tzinfo=UTC)
    async with engine.begin() as conn:
        for d in (1, 2):
            await conn.execute(
                text("INSERT INTO districts (id, key, name, created_at) VALUES (:d, :k, 'D', :t)"),
                {"d": d, "k": f"d{d}", "t": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO users (id, district_id, key, name, is_pl_manager, "
                    "is_users_manager, dcf_access, stats_inclusion, "
                    "share_certifications_in_feed, show_micro_certifications, "
                    "show_personal_stats, created_at) VALUES (:d, :d, :k, 'U', false, false, "
                    "false, 'DEFAULT', true, true, true, :t)"
                ),
                {"d": d, "k": f"u{d}", "t": now},
            )
        await conn.execute(
            text(
                "INSERT INTO modules (id, key, title, catalog, created_at) "
                "VALUES (1, 'm', 'M', 'MODERN_TEACHER', :t)"
            ),
            {"t": now},
        )
        # Interleaved districts: ids 1..5 go d1, d2, d1, d1, d2.
        for cert_id, d in enumerate((1, 2, 1, 1, 2), start=1):
            level = "LITERACY" if cert_id % 2 else "FLUENCY"
            await conn.execute(
                text(
                    "INSERT INTO certifications (id, district_id, user_id, module_id, level, "
                    "earned_by, earned_at) VALUES (:c, :d, :d, 1, :l, 'PAGES', :t)"
                ),
                {"c": cert_id, "d": d, "l": f"{level}{cert_id}"[:24], "t": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO feed_items (id, district_id, user_id, kind, certification_id, "
                    "created_at) VALUES (:c, :d, :d, 'CERTIFICATION_EARNED', :c, :t)"
                ),
                {"c": cert_id, "d": d, "t": now},
            )
    await engine.dispose()
    await asyncio.to_thread(upgrade, empty_database_url)
    engine = create_engine(empty_database_url, pool=False)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, seq FROM feed_items ORDER BY id"))).all()
        sequences = (
            await conn.execute(text("SELECT district_id, last_seq FROM feed_sequences ORDER BY 1"))
        ).all()
    await engine.dispose()
    assert [tuple(r) for r in rows] == [(1, 1), (2, 1), (3, 2), (4, 3), (5, 2)]
    assert [tuple(r) for r in sequences] == [(1, 3), (2, 2)]
