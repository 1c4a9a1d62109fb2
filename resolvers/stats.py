"""Comparison Stats and scope stats: permission checks, then one read of the counters."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from dataloaders import stats as stats_reads
from dataloaders.stats import CatalogEntry, ScopeRow
from models.enums import GroupKind, Level
from models.errors import BadInput, Forbidden, NotFound
from models.rules import counting, permissions
from models.rules.permissions import IntegrationViewer, UserViewer, Viewer
from models.rules.stats import (
    DISTRICT_SCOPE,
    StatusCounts,
    personal_counts,
    scope_counts,
)
from models.tables import Module
from resolvers.context import Context
from resolvers.ids import decode_id, encode_id


class ScopeKind(StrEnum):
    DISTRICT = "DISTRICT"
    SCHOOL = "SCHOOL"
    COHORT = "COHORT"


@dataclass(frozen=True, slots=True)
class ScopeRef:
    """A scope as a client names it: the district, or a group by its primary key."""

    kind: ScopeKind
    group_id: int | None = None
    # The District ID a client may pass with a DISTRICT scope: it must be the viewer's.
    district_pk: int | None = None

    @property
    def scope_id(self) -> int:
        return DISTRICT_SCOPE if self.group_id is None else self.group_id

    def names(self, row: ScopeRow, district_id: int) -> bool:
        """Whether `row` (read for scope_id) is this scope of the viewer's district. A group of
        another kind, or another district's ID, reads like an ID that does not exist."""
        if self.group_id is None:
            return self.district_pk is None or self.district_pk == district_id
        return row.kind is group_kind(self.kind)


@dataclass(frozen=True, slots=True)
class ScopeView:
    kind: ScopeKind
    global_id: str
    name: str
    can_view_individual_results: bool
    counts: StatusCounts
    counted_users: int
    module_count: int


@dataclass(frozen=True, slots=True)
class ComparisonView:
    level: Level
    module: Module | None
    personal: StatusCounts
    stats_excluded: bool
    district: ScopeView
    schools: list[ScopeView]
    cohorts: list[ScopeView]


def parse_scope(kind: ScopeKind, global_id: str | None) -> ScopeRef:
    if kind is ScopeKind.DISTRICT:
        if global_id is None:
            return ScopeRef(kind)
        return ScopeRef(kind, district_pk=decode_id(global_id, "District", arg="scope.id")[1])
    if global_id is None:
        raise BadInput(f"scope.id is required for a {kind.value} scope.")
    expected = "School" if kind is ScopeKind.SCHOOL else "Cohort"
    _, pk = decode_id(global_id, expected, arg="scope.id")
    return ScopeRef(kind, pk)


def modules_for(
    catalog: list[CatalogEntry], module_id: int | None, level: Level
) -> tuple[Module | None, list[int]]:
    """The module filter: one module (which must have the level) or all that have it."""
    if module_id is None:
        return None, [e.module.id for e in catalog if e.has(level)]
    entry = next((e for e in catalog if e.module.id == module_id), None)
    if entry is None:
        raise NotFound("No module with that ID exists.")
    if not entry.has(level):
        raise BadInput(
            f'Module "{entry.module.key}" has no {level.value.title()} level: it has no '
            f"{level.value.title()} pages. Ask for LITERACY, or pick another module."
        )
    return entry.module, [entry.module.id]


def _view(
    viewer: Viewer, row: ScopeRow, district_id: int, district_name: str, module_ids: list[int]
) -> ScopeView:
    if row.kind is None:
        kind, gid, name = ScopeKind.DISTRICT, encode_id("District", district_id), district_name
    else:
        kind = ScopeKind.SCHOOL if row.kind is GroupKind.SCHOOL else ScopeKind.COHORT
        gid, name = encode_id(kind.value.title(), row.scope_id), row.name or ""
    return ScopeView(
        kind=kind,
        global_id=gid,
        name=name,
        can_view_individual_results=permissions.can_view_individual_results(
            viewer, is_district_scope=row.kind is None, roles_in_group=row.viewer_roles
        ),
        counts=scope_counts(row.population, row.per_module, module_ids),
        counted_users=row.population,
        module_count=len(module_ids),
    )


def _by_name(views: list[ScopeView]) -> list[ScopeView]:
    return sorted(views, key=lambda v: (v.name.casefold(), v.global_id))


async def comparison_stats(ctx: Context, module_gid: str | None, level: Level) -> ComparisonView:
    """The dashboard: personal, district, and every school and cohort the viewer is in."""
    viewer = ctx.require_viewer()
    if not isinstance(viewer, UserViewer):
        raise Forbidden(
            "comparisonStats is a user's dashboard; an integration reads scopeStats instead."
        )
    module_pk = None if module_gid is None else decode_id(module_gid, "Module", arg="moduleId")[1]
    async with ctx.db.read() as session:
        catalog = await stats_reads.catalog(session, viewer.district_id)
        module, module_ids = modules_for(catalog, module_pk, level)
        read = await stats_reads.scopes(
            session, viewer.district_id, level, viewer_id=viewer.user_id, module_id=module_pk
        )
    views = [
        _view(viewer, row, viewer.district_id, read.district_name, module_ids)
        for row in read.scopes.values()
    ]
    me = ctx.viewer_row
    assert me is not None
    return ComparisonView(
        level=level,
        module=module,
        personal=personal_counts(read.personal, module_ids),
        stats_excluded=not counting.included(me.stats_inclusion, me.dcf_access),
        district=next(v for v in views if v.kind is ScopeKind.DISTRICT),
        schools=_by_name([v for v in views if v.kind is ScopeKind.SCHOOL]),
        cohorts=_by_name([v for v in views if v.kind is ScopeKind.COHORT]),
    )


@dataclass(frozen=True, slots=True)
class ScopeTable:
    """A scope's stats, overall and per module: what the stats CSV export writes."""

    overall: ScopeView
    module: Module | None
    per_module: list[tuple[Module, ScopeView]]


@dataclass(frozen=True, slots=True)
class ScopeRead:
    """One scope of the viewer's district, read for a module filter and a level."""

    catalog: list[CatalogEntry]
    module: Module | None
    module_ids: list[int]
    district_name: str
    row: ScopeRow


async def read_scope(
    ctx: Context, session: AsyncSession, scope: ScopeRef, module_gid: str | None, level: Level
) -> ScopeRead:
    """The catalog, the module filter and the scope's counters, in two statements; NOT_FOUND
    for a group (or district ID) that is not the viewer's district's."""
    viewer = ctx.require_viewer()
    module_pk = None if module_gid is None else decode_id(module_gid, "Module", arg="moduleId")[1]
    catalog = await stats_reads.catalog(session, viewer.district_id)
    module, module_ids = modules_for(catalog, module_pk, level)
    read = await stats_reads.scopes(
        session,
        viewer.district_id,
        level,
        viewer_id=viewer.user_id if isinstance(viewer, UserViewer) else None,
        group_ids=[] if scope.group_id is None else [scope.group_id],
        module_id=module_pk,
    )
    row = read.scopes.get(scope.scope_id)
    if row is None or not scope.names(row, viewer.district_id):
        raise NotFound(f"No {scope.kind.value.lower()} with that ID exists.")
    return ScopeRead(catalog, module, module_ids, read.district_name, row)


async def scope_table(
    ctx: Context, scope: ScopeRef, module_gid: str | None, level: Level
) -> ScopeTable:
    """One scope's stats for one module, or for all modules with the level (and each)."""
    viewer = ctx.require_viewer()
    async with ctx.db.read() as session:
        found = await read_scope(ctx, session, scope, module_gid, level)
    row, module_ids, district_name = found.row, found.module_ids, found.district_name
    ensure_can_read_scope(viewer, row)
    modules = {e.module.id: e.module for e in found.catalog}
    return ScopeTable(
        overall=_view(viewer, row, viewer.district_id, district_name, module_ids),
        module=found.module,
        per_module=[
            (modules[m], _view(viewer, row, viewer.district_id, district_name, [m]))
            for m in module_ids
        ],
    )


async def scope_stats(
    ctx: Context, scope: ScopeRef, module_gid: str | None, level: Level
) -> ScopeView:
    return (await scope_table(ctx, scope, module_gid, level)).overall


def group_kind(kind: ScopeKind) -> GroupKind | None:
    return {ScopeKind.SCHOOL: GroupKind.SCHOOL, ScopeKind.COHORT: GroupKind.COHORT}.get(kind)


def ensure_can_read_scope(viewer: Viewer, row: ScopeRow) -> None:
    if row.kind is None:
        allowed = permissions.can_read_district_stats(viewer)
    else:
        allowed = permissions.can_read_group_stats(viewer, row.viewer_roles)
    if not allowed:
        if isinstance(viewer, IntegrationViewer):
            raise Forbidden("This integration token lacks the stats:read scope.")
        raise Forbidden(
            "You can read the stats of schools and cohorts you belong to; district PL managers "
            "can read every group."
        )
