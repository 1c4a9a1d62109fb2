"""Shared fixtures: one migrated database per test session, wiped after each test.

The backend comes from MICROCRED_DATABASE_URL (SQLite in a temporary file when unset; for a
PostgreSQL URL a fresh database is created on that server and dropped at the end) and the
broker from MICROCRED_BROADCAST_URL, so the same suite runs on both stacks.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.main import create_app
from models.db import Database, create_engine
from models.migrate import upgrade
from models.tables import Base
from settings import Settings
from tests.support import Api, RunningServer


def _configured_url() -> str:
    return os.environ.get("MICROCRED_DATABASE_URL", "")


@pytest.fixture(scope="session")
def backend() -> str:
    url = _configured_url()
    return "postgresql" if url.startswith("postgres") else "sqlite"


async def _create_pg_database(server_url: str) -> str:
    url = make_url(server_url)
    name = f"microcred_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres").render_as_string(False), pool=False)
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


async def _drop_pg_database(db_url: str) -> None:
    url = make_url(db_url)
    admin = create_engine(url.set(database="postgres").render_as_string(False), pool=False)
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    configured = _configured_url()
    if configured.startswith("postgres"):
        url = await _create_pg_database(configured)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'microcred-test.db'}"
    await asyncio.to_thread(upgrade, url)
    yield url
    if configured.startswith("postgres"):
        await _drop_pg_database(url)


@pytest.fixture(scope="session")
async def session_db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def wipe(database: Database) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with database.write() as session:
        if database.is_sqlite:
            for name in tables:
                await session.execute(text(f'DELETE FROM "{name}"'))
        else:
            quoted = ", ".join(f'"{n}"' for n in tables)
            await session.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def db(session_db: Database) -> AsyncIterator[Database]:
    """The session's database, emptied after the test."""
    yield session_db
    await wipe(session_db)


@pytest.fixture(scope="session")
def broadcast_url() -> str:
    return os.environ.get("MICROCRED_BROADCAST_URL", "memory://")


def pytest_report_header(config: Any) -> list[str]:
    url = _configured_url() or "sqlite (temporary file)"
    return [
        f"microcred backend: {make_url(url).get_backend_name() if '://' in url else url}",
        f"microcred broadcaster: {os.environ.get('MICROCRED_BROADCAST_URL', 'memory://')}",
    ]


def settings_for_tests(database_url: str, broadcast_url: str) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        broadcast_url=broadcast_url,
        jwt_secret="microcred-test-secret-0123456789abcdef",
        # Short, so the init-timeout test is quick; still far above a real client's need.
        ws_init_timeout=1.0,
    )


@asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[RunningServer]:
    """The real ASGI app under uvicorn on a loopback port, for HTTP and websocket tests."""
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws_per_message_deflate=False)
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    while not uv.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield RunningServer(app=app, settings=settings, base_url=f"http://127.0.0.1:{port}")
    finally:
        uv.should_exit = True
        await task


@pytest.fixture(scope="session")
async def server(database_url: str, broadcast_url: str) -> AsyncIterator[RunningServer]:
    async with running_server(settings_for_tests(database_url, broadcast_url)) as running:
        yield running


@pytest.fixture
async def api(server: RunningServer, db: Database) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
        yield Api(client=client, server=server, db=db)
