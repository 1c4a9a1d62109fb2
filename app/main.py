"""The ASGI application: GraphQL, CSV exports, health checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from app.exports import individual_results_csv, stats_csv
from app.graphql import MicrocredGraphQL
from app.logging import configure_logging
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
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        log.info("microcred is serving", database=db.engine.url.render_as_string(True))
        yield
        await db.dispose()
        log.info("microcred stopped serving")

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await db.ping()
            checks["database"] = "ok"
        except Exception as exc:  # any failure means not ready; say which part
            log.warning("Readiness check: the database is unreachable", error=str(exc))
            checks["database"] = "unreachable"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    app = Starlette(
        routes=[
            Route("/graphql", graphql_app, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql_app),
            Route("/export/stats.csv", stats_csv),
            Route("/export/individual-results.csv", individual_results_csv),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
    app.state.db = db
    app.state.settings = settings
    return app
