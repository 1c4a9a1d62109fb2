"""Strawberry's ASGI app with our context and websocket protocol choices."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from feed.outbox import FeedPublisher
from models.db import Database
from resolvers.context import Context, build_context
from settings import Settings


class MicrocredGraphQL(GraphQL):
    def __init__(self, schema: Any, db: Database, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            # Only the maintained protocol; the legacy graphql-ws one is off on purpose.
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout),
        )
        self.db = db
        self.settings = settings
        # Set once the feed is running (app lifespan); mutations announce through it.
        self.publisher: FeedPublisher | None = None

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:  # type: ignore[override]
        authorization = request.headers.get("authorization")
        context = await build_context(self.db, self.settings, authorization, self.publisher)
        context.extra["request"] = request
        context.extra["response"] = response
        return context
