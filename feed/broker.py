"""Feed broker: broadcaster backends that survive broker restarts.

broadcaster 0.3.1's own Redis and Postgres backends deliver nothing with redis-py 8 and never
reconnect: their listener dies with an error nobody sees and subscribers wait forever (see
/work/shared/STACK-NOTES.md). The backends here keep broadcaster's interface, but a supervisor
task owns the listening connection: it notices a dead or silent broker within a few seconds,
reconnects with backoff, subscribes every channel again and then calls ``on_reconnect`` so the
caller can catch up from the database (pub/sub drops whatever was published during an outage).
Publishing and pinging are bounded in time and raise ``BrokerUnavailable`` instead of hanging.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict, Unpack

import asyncpg
import structlog
from broadcaster import Broadcast, Event
from broadcaster._backends.base import BroadcastBackend
from broadcaster._backends.memory import MemoryBackend
from redis import exceptions as redis_errors
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

__all__ = [
    "BackendOptions",
    "BrokerUnavailable",
    "OnReconnect",
    "SupervisedPostgresBackend",
    "SupervisedRedisBackend",
    "broker_ping",
    "create_broadcast",
]

log = structlog.get_logger("microcred.feed")

OnReconnect = Callable[[], Awaitable[None]]

SUPPORTED_SCHEMES = (
    "memory://",
    "redis://",
    "rediss://",
    "postgres://",
    "postgresql://",
    "postgresql+asyncpg://",
)

# Errors that mean "the broker cannot be reached right now", as opposed to a bug or a bad
# request. They are logged without a traceback and always lead to a reconnect.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,  # also asyncio.TimeoutError
    OSError,
    EOFError,
    redis_errors.ConnectionError,  # includes BusyLoadingError while Redis loads its data
    redis_errors.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # includes "connection is closed" / ConnectionDoesNotExistError
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, pg_terminate_backend
    asyncpg.exceptions.CannotConnectNowError,
)


class BrokerUnavailable(Exception):
    """The feed broker cannot be reached; publishing should be retried later."""


class BackendOptions(TypedDict, total=False):
    """Tuning of the supervised backends; the defaults suit production (times in seconds)."""

    on_reconnect: OnReconnect | None
    connect_timeout: float  # one connection attempt, including the resubscribe
    operation_timeout: float  # publish, ping, subscribe confirmation
    ping_interval: float  # silence after which the listener checks the connection
    ping_timeout: float  # how long that check may take before the connection counts as dead
    backoff_base: float  # first reconnect delay, doubled per failed attempt...
    backoff_cap: float  # ...up to this
    on_reconnect_timeout: float


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, (*CONNECTION_ERRORS, BrokerUnavailable))


def _text(value: Any) -> str:
    # Replacement instead of strict decoding: one bad payload must not crash-loop the listener.
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


class _SupervisedBackend(BroadcastBackend):
    """The supervision shared by the Redis and Postgres backends.

    Subclasses implement ``_open`` (connect and subscribe every wanted channel), ``_serve``
    (deliver events; raise as soon as the connection is found dead) and ``_close_listener``.

    ``on_reconnect`` is awaited after every reconnect, once all channels are subscribed again,
    in a task of its own so the listener keeps reading (and pinging) meanwhile. Events that
    arrive from the moment the connection was lost until it returns are held back, so a catch-up
    from the database comes before live events; it must therefore not wait for events of this
    broadcast itself. Calls never overlap: a newer one waits for the previous one.
    """

    kind = "broker"

    def __init__(
        self,
        url: str,
        *,
        on_reconnect: OnReconnect | None = None,
        connect_timeout: float = 2.0,
        operation_timeout: float = 2.0,
        ping_interval: float = 1.0,
        ping_timeout: float = 2.0,
        backoff_base: float = 0.05,
        backoff_cap: float = 2.0,
        on_reconnect_timeout: float = 30.0,
    ) -> None:
        self._url = url
        self._on_reconnect = on_reconnect
        self._connect_timeout = connect_timeout
        self._operation_timeout = operation_timeout
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._on_reconnect_timeout = on_reconnect_timeout
        # Channels the callers want, whatever the state of the connection: the supervisor
        # subscribes all of them again after every reconnect.
        self._channels: set[str] = set()
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._delivering = asyncio.Event()  # cleared from a loss until on_reconnect returns
        self._delivering.set()
        self._catch_up: asyncio.Task[None] | None = None  # the latest on_reconnect call
        self._connected = False
        self._supervisor: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()

    # -- broadcaster interface -------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the listening connection is up and every channel is subscribed."""
        return self._connected

    async def connect(self) -> None:
        if self._supervisor is not None and not self._supervisor.done():
            return
        self._first_attempt = asyncio.Event()
        self._supervisor = asyncio.create_task(
            self._supervise(), name=f"microcred.feed.{self.kind}.supervisor"
        )
        self._supervisor.add_done_callback(self._supervisor_done)
        # Wait for the first attempt only (it is bounded by connect_timeout): a broker that is
        # down at startup is retried in the background and reported by ping() / readyz.
        await self._first_attempt.wait()

    async def disconnect(self) -> None:
        task, self._supervisor = self._supervisor, None
        if task is not None and not task.done():
            task.cancel()
            # asyncio.wait, not `await task`: it neither re-raises the task's cancellation
            # nor swallows a cancellation of disconnect() itself.
            await asyncio.wait({task})
        catch_up, self._catch_up = self._catch_up, None
        if catch_up is not None and not catch_up.done():
            catch_up.cancel()
            await asyncio.wait({catch_up})
        self._connected = False
        self._delivering.set()
        await self._close_publisher()

    async def next_published(self) -> Event:
        event = await self._events.get()
        await self._delivering.wait()
        return event

    async def ping(self) -> None:
        raise NotImplementedError

    # -- supervision -----------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        delay = min(self._backoff_cap, self._backoff_base * 2 ** max(attempt - 1, 0))
        # "Equal jitter": never above the cap, and instances do not reconnect in lockstep.
        return delay / 2 + random.uniform(0, delay / 2)

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        attempts = 0  # every connection attempt since start
        failures = 0  # consecutive failures, for the backoff
        down_since = loop.time()
        while True:
            attempts += 1
            try:
                await self._open()
            except asyncio.CancelledError:
                await self._safe_close()
                raise
            except Exception as exc:
                failures += 1
                self._hold_delivery()
                await self._safe_close()
                delay = self._backoff(failures)
                self._report(exc, "Could not connect to the feed broker; retrying", failures, delay)
                self._first_attempt.set()
                await asyncio.sleep(delay)
                continue

            self._connected = True
            self._first_attempt.set()
            if attempts > 1:
                # Something may have been published while we were away (or while a subscriber
                # waited for the first connection): tell the caller once we listen again.
                log.info(
                    "Reconnected to the feed broker",
                    broker=self.kind,
                    attempts=failures,
                    down_for=round(loop.time() - down_since, 3),
                )
                self._start_catch_up()
            failures = 0

            try:
                await self._serve()
                raise BrokerUnavailable("the listening connection ended")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures = 1
                delay = self._backoff(failures)
                self._report(
                    exc, "Lost the connection to the feed broker; reconnecting", failures, delay
                )
            finally:
                self._connected = False
                down_since = loop.time()
                self._hold_delivery()
                await self._safe_close()
            await asyncio.sleep(delay)

    async def _safe_close(self) -> None:
        try:
            await self._close_listener()
        except Exception as exc:
            # Nothing to do about it, and the supervisor must not die of it.
            log.warning(
                "Could not close a feed broker connection", broker=self.kind, error=_describe(exc)
            )

    def _report(self, exc: Exception, message: str, attempt: int, delay: float) -> None:
        fields: dict[str, Any] = {
            "broker": self.kind,
            "error": _describe(exc),
            "attempt": attempt,
            "retry_in": round(delay, 3),
        }
        if _is_connection_error(exc):
            # During a long outage, say it now and then rather than every two seconds.
            if attempt <= 5 or attempt % 30 == 0:
                log.warning(message, **fields)
        else:
            # A bug or an unexpected reply: keep the traceback, and keep going anyway.
            log.error(message + " (unexpected error)", exc_info=exc, **fields)

    def _hold_delivery(self) -> None:
        # Only worth it when someone catches up; otherwise there is nothing to wait for.
        if self._on_reconnect is not None:
            self._delivering.clear()

    def _start_catch_up(self) -> None:
        if self._on_reconnect is None:
            return
        previous = self._catch_up
        self._catch_up = asyncio.create_task(
            self._notify_reconnect(self._on_reconnect, previous),
            name=f"microcred.feed.{self.kind}.on_reconnect",
        )

    async def _notify_reconnect(
        self, on_reconnect: OnReconnect, previous: asyncio.Task[None] | None
    ) -> None:
        try:
            if previous is not None and not previous.done():
                await asyncio.wait({previous})
            async with asyncio.timeout(self._on_reconnect_timeout):
                await on_reconnect()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The caller's catch-up failed; the feed itself is live again, so carry on.
            log.error(
                "The on_reconnect callback of the feed broker failed",
                broker=self.kind,
                error=_describe(exc),
                exc_info=exc,
            )
        finally:
            # Only the latest call releases the events, and only while connected: after a new
            # loss they wait for the next call.
            if self._catch_up is asyncio.current_task() and self._connected:
                self._delivering.set()

    def _supervisor_done(self, task: asyncio.Task[None]) -> None:
        # The loop catches every Exception, so this only fires on a bug; say so loudly rather
        # than leave subscribers waiting in silence.
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.critical(
                "The feed broker supervisor stopped; subscribers will receive nothing",
                broker=self.kind,
                error=_describe(exc),
                exc_info=exc,
            )

    async def _open(self) -> None:
        raise NotImplementedError

    async def _serve(self) -> None:
        raise NotImplementedError

    async def _close_listener(self) -> None:
        raise NotImplementedError

    async def _close_publisher(self) -> None:
        raise NotImplementedError


class SupervisedRedisBackend(_SupervisedBackend):
    """Redis pub/sub with a supervised listening connection.

    The listening connection is a bare redis-py connection that only the supervisor reads from:
    redis-py's PubSub reconnects and resubscribes behind our back, which would hide exactly the
    event (a reconnect) the caller has to hear about. A dead server is noticed by the read
    failing (a killed server's socket is closed by the kernel); a silent one (paused, or a
    network black hole) by a PING sent after ``ping_interval`` of silence that gets no reply
    within ``ping_timeout``.
    """

    kind = "redis"

    def __init__(self, url: str, **options: Unpack[BackendOptions]) -> None:
        super().__init__(url, **options)
        # One attempt per call, no hidden retries: the supervisor owns the retry policy.
        self._listen_pool = ConnectionPool.from_url(
            url,
            socket_connect_timeout=self._connect_timeout,
            socket_timeout=self._operation_timeout,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0),
        )
        # One immediate retry: a pooled connection that went stale during a restart is
        # replaced at once, so the first publish after the restart succeeds.
        self._publisher = Redis.from_url(
            url,
            socket_connect_timeout=self._connect_timeout,
            socket_timeout=self._operation_timeout,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 1),
        )
        self._conn: AbstractConnection | None = None
        self._send_lock = asyncio.Lock()
        self._server_channels: set[str] = set()  # acknowledged on the current connection
        # Callers of subscribe() waiting for the server's confirmation: True once confirmed,
        # False when the connection went away first.
        self._ack_waiters: dict[str, list[asyncio.Future[bool]]] = {}

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        conn = self._conn
        if not self._connected or conn is None:
            return  # the supervisor subscribes it as soon as it is connected
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._ack_waiters.setdefault(channel, []).append(waiter)
        try:
            await self._send(conn, "SUBSCRIBE", channel)
            # Wait for the server's confirmation: a message published before it would be lost.
            async with asyncio.timeout(self._operation_timeout):
                if not await waiter:
                    raise BrokerUnavailable("the listening connection was lost")
        except Exception as exc:
            if not _is_connection_error(exc):
                raise
            # No error to the caller: the channel is remembered, the supervisor notices the
            # broken connection, subscribes again and calls on_reconnect.
            log.warning(
                "Could not confirm a feed subscription; it is renewed on reconnect",
                broker=self.kind,
                channel=channel,
                error=_describe(exc),
            )
        finally:
            waiters = self._ack_waiters.get(channel, [])
            if waiter in waiters:
                waiters.remove(waiter)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        conn = self._conn
        if not self._connected or conn is None:
            return
        try:
            await self._send(conn, "UNSUBSCRIBE", channel)
        except Exception as exc:
            if not _is_connection_error(exc):
                raise
            # Harmless: a new connection starts without it, and stray messages are dropped.

    async def publish(self, channel: str, message: Any) -> None:
        try:
            async with asyncio.timeout(self._operation_timeout):
                await self._publisher.publish(channel, message)
        except CONNECTION_ERRORS as exc:
            raise BrokerUnavailable(f"Could not publish to Redis ({_describe(exc)})") from exc

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(self._operation_timeout):
                await self._publisher.ping()
        except CONNECTION_ERRORS as exc:
            raise BrokerUnavailable(f"Redis does not answer ({_describe(exc)})") from exc

    async def _send(self, conn: AbstractConnection, *args: str) -> None:
        async with self._send_lock:
            # Never write to a connection the supervisor has dropped: redis-py would silently
            # reconnect it, and nobody would read from it.
            if conn is not self._conn:
                raise BrokerUnavailable("the listening connection was replaced")
            async with asyncio.timeout(self._operation_timeout):
                await conn.send_command(*args, check_health=False)

    async def _read(self, conn: AbstractConnection, wait: float | None) -> Any:
        # wait=None falls back to socket_timeout and raises; a number returns None instead.
        return await conn.read_response(timeout=wait, push_request=True, disconnect_on_error=False)

    async def _open(self) -> None:
        conn = self._listen_pool.make_connection()
        self._conn = conn
        self._server_channels = set()
        async with asyncio.timeout(self._connect_timeout):
            await conn.connect()
            # Loop because callers may subscribe while we are still connecting.
            while missing := sorted(self._channels - self._server_channels):
                await conn.send_command("SUBSCRIBE", *missing, check_health=False)
                while not self._server_channels.issuperset(missing):
                    self._handle(await self._read(conn, None))

    async def _serve(self) -> None:
        conn = self._conn
        assert conn is not None
        loop = asyncio.get_running_loop()
        last_seen = last_ping = loop.time()
        while True:
            now = loop.time()
            silent = now - last_seen
            if silent > self._ping_interval + self._ping_timeout:
                raise BrokerUnavailable(f"Redis sent nothing for {silent:.1f} s, not even a PONG")
            if silent >= self._ping_interval and now - last_ping >= self._ping_interval:
                # Only when idle: any message already proves the connection alive.
                await self._send(conn, "PING")
                last_ping = now
            frame = await self._read(conn, self._ping_interval / 2)
            if frame is not None:
                last_seen = loop.time()
                self._handle(frame)

    def _handle(self, frame: Any) -> None:
        if not isinstance(frame, list) or len(frame) < 3:
            return  # PONG, or a reply we have no use for
        kind = _text(frame[0]).lower()
        channel = _text(frame[1])
        if kind == "message":
            # Drop stragglers for channels nobody wants any more.
            if channel in self._channels:
                self._events.put_nowait(Event(channel=channel, message=_text(frame[2])))
        elif kind == "subscribe":
            self._server_channels.add(channel)
            waiters = self._ack_waiters.get(channel)
            if waiters:
                waiter = waiters.pop(0)
                if not waiter.done():
                    waiter.set_result(True)
        elif kind == "unsubscribe":
            self._server_channels.discard(channel)

    async def _close_listener(self) -> None:
        conn, self._conn = self._conn, None
        self._server_channels = set()
        # Release callers waiting for a confirmation that will not come on this connection.
        for waiters in self._ack_waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(False)
        self._ack_waiters.clear()
        if conn is not None:
            try:
                await conn.disconnect(nowait=True)
            except Exception as exc:
                log.debug("Closing a feed broker connection failed", error=_describe(exc))

    async def _close_publisher(self) -> None:
        await self._publisher.aclose()
        await self._listen_pool.disconnect()


class SupervisedPostgresBackend(_SupervisedBackend):
    """PostgreSQL LISTEN/NOTIFY with a supervised listening connection.

    One asyncpg connection listens; a second one publishes with ``pg_notify``. A dead listening
    connection is noticed through asyncpg's termination listener (the server closed it, e.g.
    ``pg_terminate_backend`` or a restart) and through a ``SELECT 1`` every ``ping_interval``
    that must answer within ``ping_timeout`` (a silent server or network).
    """

    kind = "postgres"
    application_name = "microcred-feed"

    def __init__(self, url: str, **options: Unpack[BackendOptions]) -> None:
        super().__init__(url, **options)
        self._listen_conn: asyncpg.Connection | None = None
        self._listen_lock = asyncio.Lock()  # asyncpg allows one operation at a time
        self._listened: set[str] = set()  # LISTENed on the current connection
        self._lost = asyncio.Event()
        self._publish_conn: asyncpg.Connection | None = None
        self._publish_lock = asyncio.Lock()

    async def _connect(self, role: str) -> asyncpg.Connection:
        return await asyncpg.connect(
            self._url,
            timeout=self._connect_timeout,
            server_settings={"application_name": f"{self.application_name}-{role}"},
        )

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        if not self._connected:
            return  # the supervisor listens on it as soon as it is connected
        try:
            await self._listen(channel)
        except Exception as exc:
            if not _is_connection_error(exc):
                raise
            # The connection state is unknown now: have the supervisor start afresh.
            self._lost.set()
            log.warning(
                "Could not confirm a feed subscription; it is renewed on reconnect",
                broker=self.kind,
                channel=channel,
                error=_describe(exc),
            )

    async def _listen(self, channel: str) -> None:
        conn = self._listen_conn
        async with self._listen_lock:
            if conn is None or conn is not self._listen_conn or channel in self._listened:
                return
            # add_listener awaits the LISTEN itself, so it is in effect when this returns.
            async with asyncio.timeout(self._operation_timeout):
                await conn.add_listener(channel, self._on_notification)
            self._listened.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        conn = self._listen_conn
        if not self._connected or conn is None:
            return
        try:
            async with self._listen_lock:
                if conn is not self._listen_conn or channel not in self._listened:
                    return
                self._listened.discard(channel)
                async with asyncio.timeout(self._operation_timeout):
                    await conn.remove_listener(channel, self._on_notification)
        except Exception as exc:
            if not _is_connection_error(exc):
                raise
            self._lost.set()  # stray notifications are dropped; a fresh connection is cleaner

    async def publish(self, channel: str, message: Any) -> None:
        await self._on_publisher("SELECT pg_notify($1, $2)", channel, str(message))

    async def ping(self) -> None:
        await self._on_publisher("SELECT 1")

    async def _on_publisher(self, query: str, *args: Any) -> None:
        try:
            async with asyncio.timeout(self._operation_timeout), self._publish_lock:
                try:
                    await self._execute_on_publisher(query, *args)
                except asyncio.CancelledError:
                    # Timed out mid-query: the connection's state is unknown, do not reuse it.
                    if self._publish_conn is not None:
                        self._publish_conn.terminate()
                        self._publish_conn = None
                    raise
        except CONNECTION_ERRORS as exc:
            raise BrokerUnavailable(f"PostgreSQL does not answer ({_describe(exc)})") from exc

    async def _execute_on_publisher(self, query: str, *args: Any) -> None:
        for attempt in (1, 2):
            fresh = self._publish_conn is None or self._publish_conn.is_closed()
            if fresh:
                self._publish_conn = await self._connect("publisher")
            conn = self._publish_conn
            assert conn is not None
            try:
                await conn.execute(query, *args)
                return
            except CONNECTION_ERRORS:
                conn.terminate()
                self._publish_conn = None
                # Retry once, and only on a connection that was already open: it may simply
                # have gone stale (e.g. the server restarted since).
                if fresh or attempt == 2:
                    raise

    def _on_notification(
        self, conn: asyncpg.Connection, pid: int, channel: str, payload: str
    ) -> None:
        if conn is self._listen_conn and channel in self._channels:
            self._events.put_nowait(Event(channel=channel, message=payload))

    def _on_termination(self, conn: asyncpg.Connection) -> None:
        if conn is self._listen_conn:
            self._lost.set()

    async def _open(self) -> None:
        self._lost = asyncio.Event()
        self._listened = set()
        conn = await self._connect("listener")
        self._listen_conn = conn
        conn.add_termination_listener(self._on_termination)
        async with asyncio.timeout(self._connect_timeout):
            # Loop because callers may subscribe while we are still connecting.
            while missing := sorted(self._channels - self._listened):
                for channel in missing:
                    await conn.add_listener(channel, self._on_notification)
                    self._listened.add(channel)

    async def _serve(self) -> None:
        conn = self._listen_conn
        assert conn is not None
        while True:
            try:
                async with asyncio.timeout(self._ping_interval):
                    await self._lost.wait()
            except TimeoutError:
                pass
            else:
                raise BrokerUnavailable("the listening connection was closed")
            # Termination is only reported when the socket closes; a silent server is not.
            async with asyncio.timeout(self._ping_timeout), self._listen_lock:
                await conn.fetchval("SELECT 1")

    async def _close_listener(self) -> None:
        conn, self._listen_conn = self._listen_conn, None
        self._listened = set()
        if conn is None or conn.is_closed():
            return
        try:
            await asyncio.wait_for(conn.close(), timeout=self._operation_timeout)
        except Exception:
            conn.terminate()

    async def _close_publisher(self) -> None:
        async with self._publish_lock:
            conn, self._publish_conn = self._publish_conn, None
        if conn is None or conn.is_closed():
            return
        try:
            await asyncio.wait_for(conn.close(), timeout=self._operation_timeout)
        except Exception:
            conn.terminate()


def create_broadcast(url: str, *, on_reconnect: OnReconnect | None = None) -> Broadcast:
    """A Broadcast on the broker named by ``url``.

    ``on_reconnect`` is awaited after the listening connection came back and every channel is
    subscribed again; messages published during the outage are lost, so catch up from the
    database there. (``memory://`` never reconnects, so it is never called.)
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    base, _, driver = scheme.partition("+")
    if sep and scheme == "memory":
        return Broadcast(backend=MemoryBackend(url))
    if sep and scheme in ("redis", "rediss"):
        return Broadcast(backend=SupervisedRedisBackend(url, on_reconnect=on_reconnect))
    if sep and base in ("postgres", "postgresql") and driver in ("", "asyncpg"):
        # asyncpg wants a plain libpq URL: drop SQLAlchemy's "+asyncpg" driver suffix.
        return Broadcast(
            backend=SupervisedPostgresBackend(f"{base}://{rest}", on_reconnect=on_reconnect)
        )
    # Only the scheme in the message: the rest of the URL may hold a password.
    shown = f"{scheme}://" if sep else "a URL without a scheme"
    raise ValueError(
        f"Unsupported broadcast URL ({shown}); supported schemes: {', '.join(SUPPORTED_SCHEMES)}"
    )


async def broker_ping(broadcast: Broadcast) -> None:
    """Raise BrokerUnavailable when the broker behind ``broadcast`` cannot be reached.

    For readiness checks; a no-op for ``memory://``.
    """
    # broadcaster has no public accessor for its backend.
    backend = getattr(broadcast, "_backend", None)
    if isinstance(backend, _SupervisedBackend):
        await backend.ping()
