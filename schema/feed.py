"""News feed types: the same shape for queries and live subscription pushes."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Self

import strawberry
from strawberry import relay

from feed.store import FeedEntry
from models.errors import BadInput
from resolvers import users as user_resolvers
from resolvers.feed import feed_cursor
from schema.enums import CertificationMethod, FeedItemKind, Level
from schema.info import Info
from schema.types import Module


@strawberry.type(description="Who earned a feed item: their key and name, public in the district.")
class FeedUser:
    key: str
    name: str


@strawberry.type
class FeedCertification:
    level: Level
    earned_by: CertificationMethod
    earned_at: datetime
    _module_id: strawberry.Private[int]

    @strawberry.field
    async def module(self, info: Info) -> Module:
        return Module.from_row(await user_resolvers.user_module(info.context, self._module_id))


@strawberry.type(description="A news-feed item: a celebrated micro-certification.")
class FeedItem(relay.Node):
    id: relay.NodeID[int]
    cursor: str = strawberry.field(description="Resume a subscription or page after this item.")
    kind: FeedItemKind
    created_at: datetime
    user: FeedUser
    certification: FeedCertification

    @strawberry.field(description="Server-assigned; feed items are not imported.")
    def key(self) -> str:
        return f"feed-item-{self.id}"

    @classmethod
    def from_entry(cls, e: FeedEntry) -> Self:
        return cls(
            id=e.id,
            cursor=feed_cursor(e),
            kind=e.kind,
            created_at=e.created_at,
            user=FeedUser(key=e.user_key, name=e.user_name),
            certification=FeedCertification(
                level=e.level,
                earned_by=e.earned_by,
                earned_at=e.earned_at,
                _module_id=e.module_id,
            ),
        )


@strawberry.type
class FeedItemConnection(relay.Connection[FeedItem]):
    pass


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The district's feed live: the items after `after` (a cursor from a feed "
        "item), then each new item once, in order. Over graphql-transport-ws at /graphql."
    )
    async def news_feed(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[FeedItem, None]:
        # app/ws.py serves this field itself, rendering each item once per distinct
        # selection for all its subscribers; this resolver is never entered from there.
        raise NotServedHere(
            "Subscribe to newsFeed over the graphql-transport-ws websocket at /graphql."
        )
        yield  # pragma: no cover - makes this an async generator for Strawberry


class NotServedHere(BadInput):
    pass
