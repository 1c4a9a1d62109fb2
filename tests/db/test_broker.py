"""The feed broker against real servers: delivery, broker restarts, lost connections, clean exits.

Redis at 127.0.0.1:6379 and PostgreSQL at 127.0.0.1:5432 are the shared servers; the fault tests
start a redis-server of their own on a free port, because they kill it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shutil
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import structlog
from broadcaster import Broadcast
from broadcaster._backends.memory import MemoryBackend

from feed.broker import (
    BrokerUnavailable,
    SupervisedPostgresBackend,
    SupervisedRedisBackend,
    broker_ping,
    create_broadcast,
)

REDIS_URL = os.environ.get("MICROCRED_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "MICROCRED_TEST_BROKER_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MESSAGES = 50


def _channel() -> str:
    # Unique per test: the shared servers may carry other people's traffic.
    return f"microcred-test-{uuid.uuid4().hex[:12]}"


async def _reachable(host: str, port: int) -> bool:
    try:
        async with asyncio.timeout(1):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    await writer.wait_closed()
    return True


# Tasks running before a test belong to others (e.g. the shared test server's own broker,
# which is a supervised Redis backend when the suite runs against Redis): not this test's.
_PREEXISTING: set[asyncio.Task[Any]] = set()


@pytest.fixture(autouse=True)
async def others_tasks() -> AsyncIterator[None]:
    _PREEXISTING.clear()
    _PREEXISTING.update(asyncio.all_tasks())
    yield


def _feed_tasks() -> list[asyncio.Task[Any]]:
    """The test's own feed-broker tasks that are still running."""
    return [
        t
        for t in asyncio.all_tasks()
        if t not in _PREEXISTING and t.get_name().startswith("microcred.feed") and not t.done()
    ]


def _backend(broadcast: Broadcast) -> Any:
    return broadcast._backend


async def _until(predicate: Callable[[], bool], within: float) -> float:
    """Wait until predicate() holds; return how long it took."""
    start = time.monotonic()
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling the backend's state is the point
            await asyncio.sleep(0.01)
    return time.monotonic() - start


@pytest.fixture(autouse=True)
async def no_loop_errors() -> AsyncIterator[None]:
    """Fail on anything reported to the loop's exception handler, such as
    "Task exception was never retrieved", which is not an unraisable exception."""
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        yield
        gc.collect()
        await asyncio.sleep(0.05)
    finally:
        loop.set_exception_handler(previous)
    assert reported == []


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    with structlog.testing.capture_logs() as captured:
        yield captured


class RedisServer:
    """A redis-server of the test's own, which it may kill and restart on the same port."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.workdir = workdir
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with asyncio.timeout(5):
            while not await _reachable("127.0.0.1", self.port):
                assert self.proc.returncode is None, "redis-server exited at startup"
                await asyncio.sleep(0.02)

    async def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()  # also ends a stopped (SIGSTOP) process
            await self.proc.wait()


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = RedisServer(port, tmp_path)
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


class Reconnects:
    """An on_reconnect callback that records its calls and notes them in the captured logs."""

    def __init__(self, logs: list[dict[str, Any]] | None = None) -> None:
        self.calls = 0
        self.finished = 0
        self.called_at: list[float] = []
        self.logs = logs
        self.then: Callable[[], Awaitable[None]] | None = None

    async def __call__(self) -> None:
        self.calls += 1
        self.called_at.append(time.monotonic())
        if self.logs is not None:
            self.logs.append({"event": "on_reconnect called"})
        try:
            if self.then is not None:
                await self.then()
        finally:
            self.finished += 1

    async def wait_for(self, calls: int, within: float) -> float:
        return await _until(lambda: self.calls >= calls, within)

    async def wait_after(self, since: float, within: float) -> None:
        """Until a call that started after `since` has finished, and none is running."""
        await _until(
            lambda: (
                bool(self.called_at) and self.called_at[-1] > since and self.finished == self.calls
            ),
            within,
        )


async def _receive(subscriber: Any, within: float = 3.0) -> str:
    async with asyncio.timeout(within):
        event = await subscriber.get()
    return event.message


# -- 1. delivery on each backend ------------------------------------------------------------


@pytest.fixture(params=["memory", "redis", "postgres"])
async def broker_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "redis":
        if not await _reachable("127.0.0.1", 6379):
            pytest.skip("no Redis at 127.0.0.1:6379")
        return REDIS_URL
    if not await _reachable("127.0.0.1", 5432):
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    return POSTGRES_URL


async def test_delivers_every_message_in_order(broker_url: str) -> None:
    broadcast = create_broadcast(broker_url)
    channel = _channel()
    await broadcast.connect()
    try:
        async with broadcast.subscribe(channel) as subscriber:
            for i in range(MESSAGES):
                await broadcast.publish(channel, f"message {i}")
            received = [await _receive(subscriber) for _ in range(MESSAGES)]
        await broker_ping(broadcast)
    finally:
        await broadcast.disconnect()
    assert received == [f"message {i}" for i in range(MESSAGES)]
    assert _feed_tasks() == []


def test_create_broadcast_picks_the_backend_by_scheme() -> None:
    assert isinstance(_backend(create_broadcast("memory://")), MemoryBackend)
    for url in ("redis://localhost:6379/0", "rediss://localhost:6380"):
        assert isinstance(_backend(create_broadcast(url)), SupervisedRedisBackend)
    for url in ("postgres://u@h/db", "postgresql://u@h/db", "postgresql+asyncpg://u:pw@h/db"):
        backend = _backend(create_broadcast(url))
        assert isinstance(backend, SupervisedPostgresBackend)
        assert backend._url.startswith(("postgres://", "postgresql://"))
    for url in ("kafka://h:9092", "postgresql+psycopg://u@h/db", "localhost:6379", "mysql://x"):
        with pytest.raises(ValueError, match=r"supported schemes: memory://, redis://"):
            create_broadcast(url)


async def test_memory_ping_is_a_no_op() -> None:
    async with create_broadcast("memory://") as broadcast:
        await broker_ping(broadcast)


# -- 2. a Redis server killed and restarted -------------------------------------------------


async def test_redis_subscriber_survives_kill_and_restart(
    own_redis: RedisServer, logs: list[dict[str, Any]]
) -> None:
    reconnects = Reconnects(logs)
    broadcast = create_broadcast(own_redis.url, on_reconnect=reconnects)
    backend = _backend(broadcast)
    channel = _channel()
    subscribe_took: list[float] = []

    async def subscribe_during_catch_up() -> None:
        # The listener keeps reading while on_reconnect runs, so confirmations come at once.
        started = time.monotonic()
        await backend.subscribe(extra := _channel())
        subscribe_took.append(time.monotonic() - started)
        assert extra in backend._server_channels
        await backend.unsubscribe(extra)

    reconnects.then = subscribe_during_catch_up
    await broadcast.connect()
    try:
        async with broadcast.subscribe(channel) as subscriber:
            await broadcast.publish(channel, "before")
            assert await _receive(subscriber) == "before"

            for n in (1, 2):  # the second restart proves the first recovery left it whole
                await own_redis.kill9()
                noticed = await _until(lambda: not backend.connected, 1.0)

                started = time.monotonic()
                with pytest.raises(BrokerUnavailable):
                    await broadcast.publish(channel, "during the outage")
                assert time.monotonic() - started < 2.5
                with pytest.raises(BrokerUnavailable):
                    await broker_ping(broadcast)

                await own_redis.start()
                back = await reconnects.wait_for(n, 5.0)
                assert backend.connected
                await broadcast.publish(channel, f"after restart {n}")
                assert await _receive(subscriber) == f"after restart {n}"
                print(
                    f"restart {n}: kill noticed in {noticed:.3f} s, back {back:.3f} s after start"
                )
            await broker_ping(broadcast)
    finally:
        await broadcast.disconnect()
    assert _feed_tasks() == []
    assert len(subscribe_took) == 2 and max(subscribe_took) < 0.5

    events = [entry["event"] for entry in logs]
    lost = [e for e in logs if e["event"].startswith("Lost the connection to the feed broker")]
    assert len(lost) == 2
    assert all(e["log_level"] == "warning" and e["error"] and e["attempt"] == 1 for e in lost)
    # The catch-up callback runs only after the reconnect (and the resubscribe) completed.
    assert events.count("Reconnected to the feed broker") == 2
    for i, event in enumerate(events):
        if event == "on_reconnect called":
            assert events[i - 1] == "Reconnected to the feed broker"


async def test_redis_back_to_back_restarts_and_subscribing_during_an_outage(
    own_redis: RedisServer,
) -> None:
    reconnects = Reconnects()
    broadcast = create_broadcast(own_redis.url, on_reconnect=reconnects)
    backend = _backend(broadcast)
    first, second = _channel(), _channel()
    caught_up: list[str] = []

    async def publish_on_reconnect() -> None:
        # What on_reconnect publishes must arrive, unless the server died again meanwhile (and
        # then there is another reconnect): the channels are subscribed again before it runs.
        message = f"catch-up {reconnects.calls}"
        with contextlib.suppress(BrokerUnavailable):
            await broadcast.publish(first, message)
            caught_up.append(message)

    reconnects.then = publish_on_reconnect
    await broadcast.connect()
    try:
        async with broadcast.subscribe(first) as sub1:
            await broadcast.publish(first, "before")
            assert await _receive(sub1) == "before"

            await own_redis.kill9()
            await _until(lambda: not backend.connected, 1.0)
            # Subscribing while the broker is down neither fails nor hangs.
            async with asyncio.timeout(1):
                sub2_cm = broadcast.subscribe(second)
                sub2 = await sub2_cm.__aenter__()
            try:
                await own_redis.start()
                await own_redis.kill9()  # gone again, possibly before the backend got back
                last_start = time.monotonic()
                await own_redis.start()
                await reconnects.wait_after(last_start, 6.0)
                assert backend.connected
                await broadcast.publish(first, "after")
                await broadcast.publish(second, "after")
                got = [await _receive(sub1)]
                while got[-1] != "after":
                    got.append(await _receive(sub1))
                # Catch-ups arrive in order, and the one from the last reconnect always does.
                assert got[:-1] == [m for m in caught_up if m in got]
                assert got[-2:] == [f"catch-up {reconnects.calls}", "after"]
                assert await _receive(sub2) == "after"
            finally:
                await sub2_cm.__aexit__(None, None, None)
    finally:
        await broadcast.disconnect()
    assert _feed_tasks() == []


async def test_redis_paused_server_is_noticed(own_redis: RedisServer) -> None:
    reconnects = Reconnects()
    broadcast = create_broadcast(own_redis.url, on_reconnect=reconnects)
    backend = _backend(broadcast)
    channel = _channel()
    await broadcast.connect()
    try:
        async with broadcast.subscribe(channel) as subscriber:
            await broadcast.publish(channel, "before")
            assert await _receive(subscriber) == "before"

            own_redis.pause()  # the socket stays open; only PINGs can tell
            try:
                paused_at = time.monotonic()
                with pytest.raises(BrokerUnavailable):
                    await broadcast.publish(channel, "into the void")
                publish_failed = time.monotonic() - paused_at
                assert publish_failed < 3.0
                await _until(lambda: not backend.connected, 5.0)
                noticed = time.monotonic() - paused_at
            finally:
                own_redis.resume()
            resumed_at = time.monotonic()
            await reconnects.wait_for(1, 6.0)
            back = time.monotonic() - resumed_at
            await broadcast.publish(channel, "after")
            # The paused server may still deliver "into the void" once it wakes up.
            messages = {await _receive(subscriber)}
            while "after" not in messages:
                messages.add(await _receive(subscriber))
            print(
                f"pause: publish failed after {publish_failed:.2f} s, listener noticed after "
                f"{noticed:.2f} s, back {back:.2f} s after SIGCONT"
            )
    finally:
        await broadcast.disconnect()
    assert _feed_tasks() == []


# -- 3. a PostgreSQL listening connection terminated by the server --------------------------


@pytest.fixture
async def pg_url() -> str:
    if not await _reachable("127.0.0.1", 5432):
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    return POSTGRES_URL


async def test_postgres_listener_survives_pg_terminate_backend(
    pg_url: str, logs: list[dict[str, Any]]
) -> None:
    reconnects = Reconnects(logs)
    url = pg_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    broadcast = create_broadcast(url, on_reconnect=reconnects)
    backend = _backend(broadcast)
    channel = _channel()
    held_back: list[bool] = []

    async def catch_up() -> None:
        # Live events that arrive while the caller catches up wait until it is done.
        await broadcast.publish(channel, f"live during catch-up {reconnects.calls}")
        await asyncio.sleep(0.2)
        held_back.append(subscriber._queue.empty())

    reconnects.then = catch_up
    await broadcast.connect()
    admin = await asyncpg.connect(pg_url)
    try:
        async with broadcast.subscribe(channel) as subscriber:
            await broadcast.publish(channel, "before")
            assert await _receive(subscriber) == "before"
            for n in (1, 2):
                pid = backend._listen_conn.get_server_pid()
                assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
                back = await reconnects.wait_for(n, 5.0)
                assert await _receive(subscriber) == f"live during catch-up {n}"
                assert backend.connected
                assert backend._listen_conn.get_server_pid() != pid
                await broadcast.publish(channel, f"after terminate {n}")
                assert await _receive(subscriber) == f"after terminate {n}"
                print(f"pg_terminate_backend {n}: back after {back:.3f} s")
            assert held_back == [True, True]
            # The publishing connection can be terminated too: the next publish reconnects.
            publisher_pid = backend._publish_conn.get_server_pid()
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", publisher_pid)
            await asyncio.sleep(0.1)
            await broadcast.publish(channel, "after publisher terminate")
            assert await _receive(subscriber) == "after publisher terminate"
    finally:
        await admin.close()
        await broadcast.disconnect()
    assert _feed_tasks() == []
    lost = [e for e in logs if e["event"].startswith("Lost the connection to the feed broker")]
    assert len(lost) == 2 and all(e["broker"] == "postgres" for e in lost)


async def test_postgres_unreachable_publish_and_ping_fail_fast() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here
    broadcast = create_broadcast(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    started = time.monotonic()
    await broadcast.connect()  # does not fail: it keeps retrying in the background
    try:
        assert not _backend(broadcast).connected
        with pytest.raises(BrokerUnavailable):
            await broadcast.publish("anything", "x")
        with pytest.raises(BrokerUnavailable):
            await broker_ping(broadcast)
    finally:
        await broadcast.disconnect()
    assert time.monotonic() - started < 3
    assert _feed_tasks() == []


# -- 4. disconnect is clean -----------------------------------------------------------------


async def test_disconnect_while_the_broker_is_down_is_clean(own_redis: RedisServer) -> None:
    broadcast = create_broadcast(own_redis.url)
    await broadcast.connect()
    async with broadcast.subscribe(_channel()):
        assert [t.get_name() for t in _feed_tasks()] == ["microcred.feed.redis.supervisor"]
        await own_redis.kill9()
        await asyncio.sleep(0.3)  # the supervisor is now in its reconnect loop
    started = time.monotonic()
    await broadcast.disconnect()
    assert time.monotonic() - started < 1
    assert _feed_tasks() == []


async def test_disconnect_is_clean_on_every_backend(broker_url: str) -> None:
    broadcast = create_broadcast(broker_url)
    await broadcast.connect()
    channel = _channel()
    async with broadcast.subscribe(channel) as subscriber:
        await broadcast.publish(channel, "one")
        assert await _receive(subscriber) == "one"
    await broadcast.disconnect()
    # Let broadcaster's own listener task, which it cancels without awaiting, finish.
    await asyncio.sleep(0)
    assert _feed_tasks() == []
