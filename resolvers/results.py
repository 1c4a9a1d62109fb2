"""Individual User Results: one query serves the GraphQL connection and the CSV export."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, and_, func, literal, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import Database
from models.enums import CertificationStatus, Level, MembershipRole
from models.errors import Forbidden
from models.rules import permissions
from models.rules.permissions import IntegrationViewer
from models.services.stats import included_clause
from models.tables import Membership, Module, ModuleStatus, User
from resolvers.context import Context
from resolvers.pagination import check_first, decode_cursor, encode_cursor
from resolvers.stats import ScopeRef, read_scope

CURSOR_KIND = "results"


class ResultFilter(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    NOT_LOGGED_IN = "NOT_LOGGED_IN"


@dataclass(frozen=True, slots=True)
class ResultRow:
    user_id: int
    key: str
    name: str
    status: CertificationStatus
    has_logged_in: bool


@dataclass(frozen=True, slots=True)
class ResultsPage:
    rows: list[ResultRow]
    cursors: list[str]
    has_next: bool
    total: int


@dataclass(frozen=True, slots=True)
class ResultsRequest:
    """A checked request: the viewer may see it, and the module has the level."""

    district_id: int
    scope: ScopeRef
    scope_name: str
    module: Module
    level: Level
    filters: frozenset[ResultFilter]


async def check_request(
    ctx: Context,
    session: AsyncSession,
    scope: ScopeRef,
    module_gid: str,
    level: Level,
    filters: Sequence[ResultFilter] | None,
) -> ResultsRequest:
    viewer = ctx.require_viewer()
    found = await read_scope(ctx, session, scope, module_gid, level)
    row, module = found.row, found.module
    assert module is not None
    if not permissions.can_view_individual_results(
        viewer, is_district_scope=scope.group_id is None, roles_in_group=row.viewer_roles
    ):
        if isinstance(viewer, IntegrationViewer):
            raise Forbidden("This integration token lacks the stats:read scope.")
        raise Forbidden(
            "Individual User Results are for district PL managers (any scope) and for the "
            "managers of a school or cohort (that group)."
        )
    return ResultsRequest(
        district_id=viewer.district_id,
        scope=scope,
        scope_name=found.district_name if row.kind is None else (row.name or ""),
        module=module,
        level=level,
        filters=frozenset(filters or ()),
    )


def results_query(req: ResultsRequest) -> Select[Any]:
    status = func.coalesce(ModuleStatus.status, literal(CertificationStatus.NOT_STARTED.value))
    query = (
        select(User.id, User.key, User.name, status.label("status"), User.first_login_at)
        .select_from(User)
        .outerjoin(
            ModuleStatus,
            and_(
                ModuleStatus.district_id == User.district_id,
                ModuleStatus.user_id == User.id,
                ModuleStatus.module_id == req.module.id,
                ModuleStatus.level == req.level,
            ),
        )
        .where(User.district_id == req.district_id, included_clause())
    )
    if req.scope.group_id is not None:
        query = query.join(
            Membership,
            and_(
                Membership.district_id == User.district_id,
                Membership.user_id == User.id,
                Membership.group_id == req.scope.group_id,
                Membership.role == MembershipRole.MEMBER,
            ),
        )
    if req.filters:
        wanted = [f.value for f in req.filters if f is not ResultFilter.NOT_LOGGED_IN]
        matches = []
        if ResultFilter.NOT_LOGGED_IN in req.filters:
            matches.append(User.first_login_at.is_(None))
        if wanted:
            # A user who never logged in matches NOT_LOGGED_IN only.
            matches.append(and_(User.first_login_at.is_not(None), status.in_(wanted)))
        query = query.where(or_(*matches))
    return query


def _row(r: Any) -> ResultRow:
    return ResultRow(
        user_id=r.id,
        key=r.key,
        name=r.name,
        status=CertificationStatus(r.status),
        has_logged_in=r.first_login_at is not None,
    )


async def individual_results(
    ctx: Context,
    scope: ScopeRef,
    module_gid: str,
    level: Level,
    filters: Sequence[ResultFilter] | None,
    first: int | None,
    after: str | None,
) -> ResultsPage:
    size = check_first(first, 50)
    position = decode_cursor(CURSOR_KIND, after, 2, types=(str, int))
    async with ctx.db.read() as session:
        req = await check_request(ctx, session, scope, module_gid, level, filters)
        base = results_query(req)
        page = base.order_by(User.name, User.id).limit(size + 1)
        if position is not None:
            page = page.where(
                tuple_(User.name, User.id) > tuple_(str(position[0]), int(position[1]))
            )
        rows = [_row(r) for r in (await session.execute(page)).all()]
        total = (
            await session.execute(select(func.count()).select_from(base.subquery()))
        ).scalar_one()
    has_next = len(rows) > size
    rows = rows[:size]
    return ResultsPage(
        rows=rows,
        cursors=[encode_cursor(CURSOR_KIND, r.name, r.user_id) for r in rows],
        has_next=has_next,
        total=total,
    )


async def prepare_export(
    ctx: Context,
    scope: ScopeRef,
    module_gid: str,
    level: Level,
    filters: Sequence[ResultFilter] | None,
) -> ResultsRequest:
    """Check an export before any byte is sent, so errors still get a proper status."""
    async with ctx.db.read() as session:
        return await check_request(ctx, session, scope, module_gid, level, filters)


async def stream_rows(db: Database, req: ResultsRequest) -> AsyncIterator[ResultRow]:
    """Every row of a checked request, in the connection's order, without holding them in
    memory. The session opens only when iteration starts, and closes with it."""
    async with db.read() as session:
        result = await session.stream(
            results_query(req).order_by(User.name, User.id).execution_options(yield_per=1000)
        )
        async for partition in result.partitions():
            for r in partition:
                yield _row(r)
