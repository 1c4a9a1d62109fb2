"""Publishing committed feed items: right after commit, and by a relay for anything a crash
or a broker outage left unpublished. Delivery is at least once; subscribers deduplicate by
position, so publishing twice is harmless."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from datetime import timedelta

import structlog
from broadcaster import Broadcast
from sqlalchemy import func, select, update

from feed.hub import CHANNEL
from models.db import Database
from models.tables import FeedItem, utcnow

log = structlog.get_logger("microcred.feed")

RELAY_SECONDS = 1.0
# Items younger than this are left to the publish that follows their own commit.
RELAY_GRACE = timedelta(seconds=2)


class FeedPublisher:
    def __init__(self, db: Database, broadcast: Broadcast) -> None:
        self.db = db
        self.broadcast = broadcast
        self._relay: asyncio.Task[None] | None = None

    async def committed(self, items: Iterable[tuple[int, int]]) -> None:
        """Announce items (district_id, item_id) that were just committed. Never raises: what
        cannot be published now stays unpublished, and the relay retries it."""
        items = list(items)
        if not items:
            return
        try:
            await self._publish({d for d, _ in items}, [i for _, i in items])
        except Exception as exc:  # the broker may be down; the outbox keeps the items
            log.warning(
                "Could not publish new feed items; the relay will retry",
                items=len(items),
                error=str(exc) or type(exc).__name__,
            )

    async def _publish(self, district_ids: set[int], item_ids: list[int]) -> None:
        for district_id in sorted(district_ids):
            await self.broadcast.publish(CHANNEL, json.dumps({"district": district_id}))
        async with self.db.write() as session:
            await session.execute(
                update(FeedItem)
                .where(FeedItem.id.in_(item_ids), FeedItem.published_at.is_(None))
                .values(published_at=utcnow())
            )

    async def relay_once(self) -> int:
        """Publish items committed but not published (a crash or an outage in between)."""
        cutoff = utcnow() - RELAY_GRACE
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(FeedItem.district_id, FeedItem.id)
                    .where(FeedItem.published_at.is_(None), FeedItem.created_at < cutoff)
                    .order_by(FeedItem.id)
                    .limit(5000)
                )
            ).all()
        if not rows:
            return 0
        await self._publish({d for d, _ in rows}, [i for _, i in rows])
        log.info("Relayed feed items that were committed but not published", items=len(rows))
        return len(rows)

    def start_relay(self) -> None:
        self._relay = asyncio.create_task(self._relay_loop(), name="microcred-feed-relay")

    async def stop(self) -> None:
        if self._relay is not None:
            self._relay.cancel()
            await asyncio.gather(self._relay, return_exceptions=True)

    async def _relay_loop(self) -> None:
        while True:
            await asyncio.sleep(RELAY_SECONDS)
            try:
                await self.relay_once()
            except Exception as exc:  # keep relaying whatever one round met
                log.warning("The feed relay could not publish; retrying", error=str(exc))

    async def unpublished(self) -> int:
        async with self.db.read() as session:
            value = await session.execute(
                select(func.count()).where(FeedItem.published_at.is_(None))
            )
            return value.scalar_one()
