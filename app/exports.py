"""CSV exports: the same permission checks and numbers as the GraphQL fields (they call the
same resolvers), streamed so memory does not grow with the rows."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from urllib.parse import quote

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from app.csv_safe import acsv_rows
from models.enums import Level
from models.errors import DomainError
from resolvers.context import Context, build_context
from resolvers.results import ResultFilter, ResultRow, prepare_export, stream_rows
from resolvers.stats import ScopeKind, ScopeRef, ScopeView, parse_scope, scope_table

log = structlog.get_logger("microcred.exports")

STATUS_BY_CODE = {
    "BAD_USER_INPUT": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
}

STATS_HEADER = (
    "scope_kind",
    "scope_name",
    "module_key",
    "module_title",
    "level",
    "counted_users",
    "not_started",
    "in_progress",
    "complete",
    "total",
    "not_started_percent",
    "in_progress_percent",
    "complete_percent",
)
RESULTS_HEADER = ("user_key", "name", "status", "has_logged_in")


class BadParameter(DomainError):
    code = "BAD_USER_INPUT"


def _error(code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, STATUS_BY_CODE[code])


def _one(request: Request, name: str, *, required: bool) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise BadParameter(f"Give {name} once.")
    if not values or not values[0]:
        if required:
            raise BadParameter(f"The {name} parameter is required.")
        return None
    return values[0]


def _scope(request: Request) -> ScopeRef:
    raw = _one(request, "scope", required=True)
    assert raw is not None
    kind_text, _, gid = raw.partition(":")
    try:
        kind = ScopeKind(kind_text.upper())
    except ValueError:
        raise BadParameter(
            "scope must be district, school:<ID> or cohort:<ID>, with GraphQL IDs."
        ) from None
    if kind is ScopeKind.DISTRICT and gid:
        raise BadParameter("scope=district takes no ID.")
    return parse_scope(kind, gid or None)


def _level(request: Request) -> Level:
    raw = _one(request, "level", required=True)
    try:
        return Level((raw or "").upper())
    except ValueError:
        raise BadParameter("level must be LITERACY or FLUENCY.") from None


def _filters(request: Request) -> list[ResultFilter]:
    names = [v for value in request.query_params.getlist("status") for v in value.split(",") if v]
    try:
        return [ResultFilter(n.strip().upper()) for n in names]
    except ValueError:
        choices = ", ".join(f.value for f in ResultFilter)
        raise BadParameter(f"status must be one or more of {choices}.") from None


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "scope"


def _disposition(parts: Sequence[str]) -> str:
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    name = "-".join([*(_slug(p) for p in parts), date]) + ".csv"
    return f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"


async def _context(request: Request) -> Context:
    app = request.app
    return await build_context(
        app.state.db, app.state.settings, request.headers.get("authorization")
    )


def _stats_row(view: ScopeView, module_key: str, module_title: str, level: Level) -> list[object]:
    c = view.counts
    return [
        view.kind.value,
        view.name,
        module_key,
        module_title,
        level.value,
        view.counted_users,
        c.not_started,
        c.in_progress,
        c.complete,
        c.total,
        c.percent(c.not_started),
        c.percent(c.in_progress),
        c.percent(c.complete),
    ]


async def stats_csv(request: Request) -> Response:
    """One row per module, then the all-modules average; or the one module asked for."""
    try:
        ctx = await _context(request)
        ctx.require_viewer()
        scope, level, module = (
            _scope(request),
            _level(request),
            _one(request, "module", required=False),
        )
        table = await scope_table(ctx, scope, module, level)
    except DomainError as exc:
        return _error(exc.code, exc.message)
    if table.module is not None:
        rows = [_stats_row(table.overall, table.module.key, table.module.title, level)]
    else:
        rows = [_stats_row(v, m.key, m.title, level) for m, v in table.per_module]
        rows.append(_stats_row(table.overall, "ALL", "All modules (average)", level))

    async def source() -> AsyncIterator[list[object]]:
        for row in rows:
            yield row

    label = table.module.key if table.module else "all-modules"
    log.info(
        "Stats CSV exported",
        scope=table.overall.name,
        module=label,
        level=level.value,
        rows=len(rows),
    )
    return StreamingResponse(
        acsv_rows(STATS_HEADER, source()),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": _disposition(
                ["stats", table.overall.kind.value, table.overall.name, label, level.value]
            )
        },
    )


async def individual_results_csv(request: Request) -> Response:
    try:
        ctx = await _context(request)
        ctx.require_viewer()
        scope, level = _scope(request), _level(request)
        module = _one(request, "module", required=True)
        assert module is not None
        req = await prepare_export(ctx, scope, module, level, _filters(request))
    except DomainError as exc:
        return _error(exc.code, exc.message)

    async def source() -> AsyncIterator[list[object]]:
        count = 0
        async for r in stream_rows(ctx.db, req):
            count += 1
            yield _result_row(r)
        log.info(
            "Individual results CSV exported",
            scope=req.scope_name,
            module=req.module.key,
            level=level.value,
            rows=count,
        )

    return StreamingResponse(
        acsv_rows(RESULTS_HEADER, source()),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": _disposition(
                [
                    "individual-results",
                    req.scope.kind.value,
                    req.scope_name,
                    req.module.key,
                    level.value,
                ]
            )
        },
    )


def _result_row(r: ResultRow) -> list[object]:
    return [r.key, r.name, r.status.value, r.has_logged_in]
