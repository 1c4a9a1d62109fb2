"""The ASGI application: GraphQL over HTTP and websockets, CSV exports, health checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.websockets import WebSocket

from app.exports import individual_results_csv, stats_csv
from app.graphql import MicrocredGraphQL
from app.logging import configure_logging
from app.ws import Renderer, websocket_endpoint
from feed.broker import broker_ping, create_broadcast
from feed.hub import CHANNEL, FeedHub
from feed.outbox import FeedPublisher
from models.db import Database
from schema import schema
from settings import Settings, get_settings

log = structlog.get_logger("microcred.app")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    settings.warn_if_insecure()
    db = Database(settings.database_url)
    graphql_app = MicrocredGraphQL(schema, db, settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub = FeedHub(db, Renderer(app.state))
        broadcast = create_broadcast(settings.broadcast_url, on_reconnect=_catch_up(hub))
        await broadcast.connect()
        publisher = FeedPublisher(db, broadcast)
        app.state.hub, app.state.broadcast = hub, broadcast
        app.state.publisher = graphql_app.publisher = publisher
        ready = asyncio.Event()
        listener = asyncio.create_task(_listen(broadcast, hub, ready), name="microcred-feed-in")
        await ready.wait()
        hub.start()
        publisher.start_relay()
        log.info(
            "microcred is serving",
            database=db.engine.url.render_as_string(True),
            broker=settings.broadcast_url.split("@")[-1],
        )
        try:
            yield
        finally:
            await publisher.stop()
            await hub.stop()
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            await broadcast.disconnect()
            await db.dispose()
            log.info("microcred stopped serving")

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await db.ping()
            checks["database"] = "ok"
        except Exception as exc:  # any failure means not ready; say which part
            log.warning("Readiness check: the database is unreachable", error=str(exc))
            checks["database"] = "unreachable"
        broadcast = getattr(request.app.state, "broadcast", None)
        try:
            if broadcast is None:
                raise RuntimeError("the feed has not started (no lifespan)")
            await broker_ping(broadcast)
            checks["broker"] = "ok"
        except Exception as exc:
            log.warning("Readiness check: the feed broker is unreachable", error=str(exc))
            checks["broker"] = "unreachable"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    app = Starlette(
        routes=[
            Route("/graphql", graphql_app, methods=["GET", "POST"]),
            Route("/export/stats.csv", stats_csv),
            Route("/export/individual-results.csv", individual_results_csv),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
    app.state.db = db
    app.state.settings = settings
    _serve_feed_sockets_directly(app)
    return app


def _serve_feed_sockets_directly(app: Starlette) -> None:
    """Hand websockets at /graphql to app.ws before Starlette's middleware and router.

    Thousands of feed sockets stay open, each holding the coroutine frames of every layer it
    went through for its whole life; skipping the layers it does not use (error pages, routing)
    keeps an idle subscriber small. Everything else goes through Starlette as usual.
    """
    inner = app.build_middleware_stack()

    async def dispatch(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/graphql":
            await websocket_endpoint(WebSocket(scope, receive=receive, send=send))
        else:
            await inner(scope, receive, send)

    app.middleware_stack = dispatch


def _catch_up(hub: FeedHub):
    async def on_reconnect() -> None:
        hub.notify_all()

    return on_reconnect


async def _listen(broadcast, hub: FeedHub, ready: asyncio.Event) -> None:
    async with broadcast.subscribe(CHANNEL) as subscriber:
        ready.set()
        async for event in subscriber:
            if event is None:
                return
            await hub.on_message(event.message)
