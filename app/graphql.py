"""Strawberry's ASGI app with our context and websocket protocol choices."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from feed.outbox import FeedPublisher
from models.db import Database
from resolvers.context import Context, build_context
from settings import Settings


class MicrocredGraphQL(GraphQL):
    def __init__(self, schema: Any, db: Database, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            # Websockets are served by app.ws (graphql-transport-ws only), not by Strawberry.
            subscription_protocols=[],
        )
        self.db = db
        self.settings = settings
        # Set once the feed is running (app lifespan); mutations announce through it.
        self.publisher: FeedPublisher | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError("websockets at /graphql are served by app.ws")
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            # Strawberry answers a malformed request (bad JSON, no query, a mutation over GET)
            # in plain text; clients get the same error shape as everywhere else instead.
            code = "BAD_USER_INPUT" if exc.status_code < 500 else "INTERNAL"
            response = JSONResponse(
                {"errors": [{"message": exc.reason, "extensions": {"code": code}}]},
                status_code=exc.status_code,
            )
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:  # type: ignore[override]
        authorization = request.headers.get("authorization")
        context = await build_context(self.db, self.settings, authorization, self.publisher)
        context.extra["request"] = request
        context.extra["response"] = response
        return context
