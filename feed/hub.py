"""Live delivery of the news feed in one process.

Subscribers of a district form a group. Whenever anything may have been added to a district's
feed (a broker message, a reconnect, a periodic sweep), the group catches up from the database:
every visible item after the group's position, in order. Positions become visible in order
(see models.tables.FeedSequence), so catching up by position never skips an item, and
delivering only items after each subscriber's own cursor never repeats one.

Rendering is injected: subscribers that would receive the same bytes share a `render_key`, and
each item is rendered once per key, not once per subscriber. Nothing here knows GraphQL.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from sqlalchemy import select

from feed import store
from feed.store import FeedEntry
from models.db import Database
from models.tables import User

log = structlog.get_logger("microcred.feed")

CHANNEL = "microcred.feed"
BATCH = 500
# A subscriber resuming from further back than this is told to resync instead of replaying.
REPLAY_LIMIT = 10_000
SWEEP_SECONDS = 10.0


class ResyncNeeded(Exception):
    """The cursor cannot be served: the client should start again without one."""


class Subscriber(Protocol):
    district_id: int
    user_id: int | None
    cursor: int
    render_key: Hashable

    def still_authorized(self) -> bool:
        """Cheap in-memory checks (token expiry); the hub checks the user row itself."""
        ...

    def deliver(self, entry: FeedEntry, payload: str) -> bool:
        """Queue one rendered item; False when the subscriber must be dropped (too slow)."""
        ...

    def revoke(self, reason: str) -> None:
        """Stop the subscriber because it may no longer read the feed."""
        ...


Render = Callable[[Hashable, Sequence[FeedEntry]], Awaitable[list[str]]]


@dataclass(eq=False)
class DistrictGroup:
    district_id: int
    position: int = 0
    subscribers: set[Subscriber] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: bool = False


class FeedHub:
    def __init__(self, db: Database, render: Render) -> None:
        self.db = db
        self.render = render
        self.groups: dict[int, DistrictGroup] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def active(self) -> int:
        return sum(len(g.subscribers) for g in self.groups.values())

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep(), name="microcred-feed-sweep")

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._sweeper] if self._sweeper else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.groups.clear()

    async def subscribe(self, sub: Subscriber, after: int | None) -> None:
        """Replay what the subscriber missed after its cursor, then keep it live."""
        group = self.groups.get(sub.district_id)
        if group is None:
            group = self.groups[sub.district_id] = DistrictGroup(sub.district_id)
        async with group.lock:
            if not group.subscribers:
                async with self.db.read() as session:
                    group.position = await store.last_position(session, sub.district_id)
            if after is not None and after > group.position:
                self._forget_if_empty(group)
                raise ResyncNeeded("the cursor is ahead of this district's feed")
            if after is not None and group.position - after > REPLAY_LIMIT:
                self._forget_if_empty(group)
                raise ResyncNeeded("the cursor is too far behind to replay")
            sub.cursor = group.position if after is None else after
            await self._replay(group, sub)
            group.subscribers.add(sub)

    def _forget_if_empty(self, group: DistrictGroup) -> None:
        if not group.subscribers:
            self.groups.pop(group.district_id, None)

    def unsubscribe(self, sub: Subscriber) -> None:
        group = self.groups.get(sub.district_id)
        if group is None:
            return
        group.subscribers.discard(sub)
        if not group.subscribers and not group.lock.locked():
            del self.groups[sub.district_id]

    def notify(self, district_id: int) -> None:
        """Something may have been added to the district's feed: catch its group up soon."""
        group = self.groups.get(district_id)
        if group is None:
            return
        if group.lock.locked():
            group.pending = True  # the running catch-up goes round once more
            return
        self._spawn(self._catch_up(group))

    def notify_all(self) -> None:
        """After a broker reconnect: what was published meanwhile was lost, so look for it."""
        for district_id in list(self.groups):
            self.notify(district_id)

    async def on_message(self, message: str) -> None:
        try:
            district_id = int(json.loads(message)["district"])
        except (ValueError, KeyError, TypeError):
            log.warning("Ignored a malformed feed message", message=message[:200])
            return
        self.notify(district_id)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Feed delivery failed", exc_info=task.exception())

    async def _sweep(self) -> None:
        # Belt and braces: a periodic look catches anything a lost message left behind.
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            self.notify_all()

    async def _replay(self, group: DistrictGroup, sub: Subscriber) -> None:
        while sub.cursor < group.position:
            async with self.db.read() as session:
                entries = await store.after(session, group.district_id, sub.cursor, BATCH)
            entries = [e for e in entries if e.seq <= group.position]
            if not entries:
                sub.cursor = group.position
                return
            payloads = await self.render(sub.render_key, entries)
            for entry, payload in zip(entries, payloads, strict=True):
                if not sub.deliver(entry, payload):
                    return
                sub.cursor = entry.seq

    async def _catch_up(self, group: DistrictGroup) -> None:
        async with group.lock:
            while True:
                group.pending = False
                await self._catch_up_once(group)
                if not group.pending:
                    break
            if not group.subscribers:
                self.groups.pop(group.district_id, None)

    async def _catch_up_once(self, group: DistrictGroup) -> None:
        while group.subscribers:
            async with self.db.read() as session:
                last = await store.last_position(session, group.district_id)
                if last <= group.position:
                    return
                entries = await store.after(session, group.district_id, group.position, BATCH)
                entries = [e for e in entries if e.seq <= last]
                await self._reauthorize(session, group)
            # Hidden items (opt-out) are skipped, but the group's position moves past them.
            group.position = entries[-1].seq if len(entries) == BATCH else last
            if entries:
                await self._deliver(group, entries)

    async def _reauthorize(self, session: object, group: DistrictGroup) -> None:
        """Every push re-checks that each subscriber may still read this district's feed."""
        users = {s.user_id for s in group.subscribers if s.user_id is not None}
        present: set[int] = set()
        if users:
            rows = await session.execute(  # type: ignore[attr-defined]
                select(User.id).where(User.district_id == group.district_id, User.id.in_(users))
            )
            present = set(rows.scalars())
        for sub in list(group.subscribers):
            if not sub.still_authorized():
                group.subscribers.discard(sub)
                sub.revoke("the access token has expired")
            elif sub.user_id is not None and sub.user_id not in present:
                group.subscribers.discard(sub)
                sub.revoke("the user no longer exists")

    async def _deliver(self, group: DistrictGroup, entries: list[FeedEntry]) -> None:
        by_key: dict[Hashable, list[Subscriber]] = defaultdict(list)
        for sub in group.subscribers:
            by_key[sub.render_key].append(sub)
        for key, subs in by_key.items():
            payloads = await self.render(key, entries)  # once per distinct selection
            for sub in subs:
                for entry, payload in zip(entries, payloads, strict=True):
                    if entry.seq <= sub.cursor:
                        continue  # already replayed to it
                    if not sub.deliver(entry, payload):
                        group.subscribers.discard(sub)
                        break
                    sub.cursor = entry.seq
