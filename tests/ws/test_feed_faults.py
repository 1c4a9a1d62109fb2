"""The feed loses nothing and repeats nothing through broker crashes, publish crashes and
reconnects; and subscriptions clean up after themselves."""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest

from feed.outbox import FeedPublisher
from tests.conftest import running_server, settings_for_tests
from tests.support import Api, world
from tests.ws.support import FeedClient, feed_client

EARN = """mutation($p: ID!, $u: ID) { completePage(pageId: $p, userId: $u) { earned { level } } }"""


def _crowd(n: int) -> dict:
    """The standard world plus n teachers who each earn one certification."""
    data = world()
    data["users"] += [
        {
            "key": f"crowd{i:03}",
            "district": "d1",
            "name": f"Crowd {i:03}",
            "firstLoginAt": "2026-09-01T12:00:00Z",
        }
        for i in range(n)
    ]
    return data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def redis_server(port: int, tmp: Path) -> Iterator[subprocess.Popen[bytes]]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


@asynccontextmanager
async def clients(base: str, token: str, n: int) -> AsyncIterator[list[FeedClient]]:
    managers = [feed_client(base) for _ in range(n)]
    opened = [await m.__aenter__() for m in managers]
    try:
        for c in opened:
            assert (await c.init(token))["type"] == "connection_ack"
            await c.subscribe()
        await asyncio.sleep(0.3)
        yield opened
    finally:
        for m in managers:
            await m.__aexit__(None, None, None)


async def _earn_all(api: Api, base: str, users: list[str], page: str) -> None:
    tool = api.integration("d1", "progress:write")
    page_id = await api.id("Page", page)
    for user in users:
        await api.ok(EARN, {"p": page_id, "u": await api.id("User", user)}, token=tool)


async def test_a_redis_crash_loses_nothing_and_repeats_nothing(
    api: Api, database_url: str, tmp_path: Path, backend: str
) -> None:
    """kill -9 of Redis, then a restart, while 100 subscribers are connected and 50
    certifications are earned across the outage: each subscriber gets all 50 once, in order."""
    port = _free_port()
    settings = settings_for_tests(database_url, f"redis://127.0.0.1:{port}/0")
    await api.seed(_crowd(50))
    users = [f"crowd{i:03}" for i in range(50)]
    with redis_server(port, tmp_path) as first:
        async with (
            running_server(settings) as server,
            clients(server.base_url, api.token("t3"), 100) as subs,
        ):
            await _earn_all(api, server.base_url, users[:20], "m2-l1")
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
            await _earn_all(api, server.base_url, users[20:35], "m2-l1")
            with redis_server(port, tmp_path):
                await _earn_all(api, server.base_url, users[35:], "m2-l1")
                for sub in subs:
                    items = await sub.items(50, within=30)
                    assert [i["user"]["key"] for i in items] == users
                await asyncio.sleep(1.5)  # room for a duplicate to show up, if any
                for sub in subs:
                    await sub.nothing_more(0.05)


async def test_a_crash_between_commit_and_publish_is_healed_by_the_relay(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api.seed(world())
    publisher: FeedPublisher = api.server.app.state.publisher
    crashed: list[int] = []

    async def crash_before_publish(items) -> None:
        crashed.extend(i for _, i in items)

    async with clients(api.server.base_url, api.token("t3"), 3) as subs:
        monkeypatch.setattr(publisher, "committed", crash_before_publish)
        await api.ok(EARN, {"p": await api.id("Page", "m2-l1")}, as_user="t1")
        monkeypatch.undo()
        assert crashed and await publisher.unpublished() == 1
        for sub in subs:
            (item,) = await sub.items(1, within=15)  # the relay publishes it
            assert item["user"]["key"] == "t1"
        # The relay marks the item published right after publishing it.
        for _ in range(50):
            if await publisher.unpublished() == 0:
                break
            await asyncio.sleep(0.1)
        assert await publisher.unpublished() == 0
        await publisher.relay_once()  # publishing again is harmless
        await publisher.committed([(1, crashed[0])])
        for sub in subs:
            await sub.nothing_more(0.5)


async def test_resume_gets_exactly_the_items_missed_then_live(api: Api) -> None:
    await api.seed(_crowd(21))
    users = [f"crowd{i:03}" for i in range(21)]
    async with clients(api.server.base_url, api.token("t3"), 1) as (sub,):
        await _earn_all(api, api.server.base_url, ["t1"], "m2-l1")
        cursor = (await sub.items(1))[0]["cursor"]
    await _earn_all(api, api.server.base_url, users[:20], "m2-l1")
    async with feed_client(api.server.base_url) as sub:
        await sub.init(api.token("t3"))
        await sub.subscribe(after=cursor)
        assert [i["user"]["key"] for i in await sub.items(20)] == users[:20]
        await sub.nothing_more(0.3)
        await _earn_all(api, api.server.base_url, users[20:], "m2-l1")
        assert [i["user"]["key"] for i in await sub.items(1)] == users[20:]


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def test_a_thousand_subscribe_disconnect_cycles_leave_nothing_behind(api: Api) -> None:
    await api.seed(world())
    hub = api.server.app.state.hub
    token = api.token("t3")

    async def cycle() -> None:
        async with feed_client(api.server.base_url) as sub:
            await sub.init(token)
            await sub.subscribe()
            await sub.send({"type": "ping"})
            assert (await sub.receive())["type"] == "pong"

    for _ in range(100):  # warm up allocators and caches before measuring
        await cycle()
    await asyncio.sleep(0.2)
    gc.collect()
    before = _rss_kib()
    for _ in range(1000):
        await cycle()
    await asyncio.sleep(0.5)
    gc.collect()
    assert hub.active == 0
    assert not hub.groups
    pending = [t for t in asyncio.all_tasks() if "microcred-ws" in t.get_name()]
    assert pending == []
    growth = (_rss_kib() - before) / before
    assert growth < 0.10, f"RSS grew {growth:.1%} over 1,000 cycles"


async def test_two_processes_share_the_feed_through_the_broker(
    api: Api, database_url: str, broadcast_url: str
) -> None:
    """A subscriber on this server receives what is earned through a second `microcred serve`
    process sharing the database and the broker."""
    if broadcast_url.startswith("memory"):
        pytest.skip("memory:// reaches one process only; this runs with Redis in CI")
    await api.seed(world())
    port = _free_port()
    env = {
        **os.environ,
        "MICROCRED_DATABASE_URL": database_url,
        "MICROCRED_BROADCAST_URL": broadcast_url,
        "MICROCRED_JWT_SECRET": api.server.settings.jwt_secret,
        "MICROCRED_LOG_LEVEL": "WARNING",
    }
    binary = Path(sys.executable).parent / "microcred"
    other = await asyncio.create_subprocess_exec(
        str(binary),
        "serve",
        "--port",
        str(port),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as client:
            for _ in range(200):
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            async with clients(api.server.base_url, api.token("t3"), 2) as subs:
                reply = await client.post(
                    "/graphql",
                    json={"query": EARN, "variables": {"p": await api.id("Page", "m2-l1")}},
                    headers={"Authorization": f"Bearer {api.token('t1')}"},
                )
                assert reply.json()["data"]["completePage"]["earned"] == [{"level": "LITERACY"}]
                for sub in subs:
                    assert [i["user"]["key"] for i in await sub.items(1)] == ["t1"]
    finally:
        other.terminate()
        await other.wait()
