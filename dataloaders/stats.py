"""Stats reads. Each function is one SQL statement, whatever the number of scopes or modules:
counters are read, never the district's users."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, String, exists, literal, null, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from models.enums import CertificationStatus, GroupKind, Level, MembershipRole
from models.rules.stats import DISTRICT_SCOPE, ModuleCounts
from models.tables import (
    District,
    Group,
    Membership,
    Module,
    ModuleStatus,
    Page,
    StatsCount,
    StatsPopulation,
)


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    module: Module
    has_fluency: bool

    def has(self, level: Level) -> bool:
        return level is Level.LITERACY or self.has_fluency


async def catalog(session: AsyncSession, district_id: int) -> list[CatalogEntry]:
    """Modules the district can see, each with whether it has a Fluency level."""
    fluency = exists().where(Page.module_id == Module.id, Page.level == Level.FLUENCY)
    rows = await session.execute(
        select(Module, fluency.label("has_fluency"))
        .where(or_(Module.district_id.is_(None), Module.district_id == district_id))
        .order_by(Module.title, Module.id)
    )
    return [CatalogEntry(module=m, has_fluency=bool(f)) for m, f in rows.all()]


@dataclass(slots=True)
class ScopeRow:
    scope_id: int
    kind: GroupKind | None  # None for the district
    name: str | None = None
    viewer_roles: set[MembershipRole] = field(default_factory=set)
    population: int = 0
    per_module: dict[int, ModuleCounts] = field(default_factory=dict)


@dataclass(slots=True)
class ScopesRead:
    district_name: str
    scopes: dict[int, ScopeRow]
    # The viewer's own statuses at the level, by module (absent = NOT_STARTED).
    personal: dict[int, CertificationStatus]


def _nulls(*types: Any) -> list[Any]:
    return [null().cast(t) for t in types]


async def scopes(
    session: AsyncSession,
    district_id: int,
    level: Level,
    *,
    viewer_id: int | None,
    group_ids: list[int] | None = None,
    module_id: int | None = None,
) -> ScopesRead:
    """The district scope plus groups (with the viewer's roles in them, their populations and
    counts), the district's name and the viewer's own statuses, in one statement. Groups are
    the viewer's (member or manager) when `group_ids` is None, else exactly those ids that
    exist in the district."""
    mine = select(Membership.group_id).where(
        Membership.district_id == district_id, Membership.user_id == (viewer_id or -1)
    )
    wanted = mine if group_ids is None else select(Group.id).where(Group.id.in_(group_ids))
    in_scope = [DISTRICT_SCOPE]
    viewer_membership = (
        (Membership.group_id == Group.id)
        & (Membership.district_id == district_id)
        & (Membership.user_id == (viewer_id or -1))
    )
    # One row per (group, viewer role); a viewer holding both roles gives two rows.
    groups = (
        select(
            literal("G").label("row"),
            Group.id.label("scope_id"),
            Group.kind.label("kind"),
            Group.name.label("name"),
            Membership.role.label("role"),
            *_nulls(String, Integer, Integer, Integer, Integer),
        )
        .select_from(Group)
        .outerjoin(Membership, viewer_membership)
        .where(Group.district_id == district_id, Group.id.in_(wanted))
    )
    populations = select(
        literal("P"),
        StatsPopulation.scope_id,
        *_nulls(String, String, String, String, Integer, Integer, Integer),
        StatsPopulation.counted,
    ).where(
        StatsPopulation.district_id == district_id,
        or_(StatsPopulation.scope_id.in_(in_scope), StatsPopulation.scope_id.in_(wanted)),
    )
    counts = select(
        literal("C"),
        StatsCount.scope_id,
        *_nulls(String, String, String),
        StatsCount.level,
        StatsCount.module_id,
        StatsCount.in_progress,
        StatsCount.complete,
        *_nulls(Integer),
    ).where(
        StatsCount.district_id == district_id,
        StatsCount.level == level,
        or_(StatsCount.scope_id.in_(in_scope), StatsCount.scope_id.in_(wanted)),
    )
    district = select(
        literal("D"),
        District.id,
        *_nulls(String),
        District.name,
        *_nulls(String, String, Integer, Integer, Integer, Integer),
    ).where(District.id == district_id)
    personal = select(
        literal("S"),
        *_nulls(Integer, String),
        ModuleStatus.status,
        *_nulls(String),
        ModuleStatus.level,
        ModuleStatus.module_id,
        *_nulls(Integer, Integer, Integer),
    ).where(
        ModuleStatus.district_id == district_id,
        ModuleStatus.user_id == (viewer_id or -1),
        ModuleStatus.level == level,
    )
    if module_id is not None:
        counts = counts.where(StatsCount.module_id == module_id)
    result: dict[int, ScopeRow] = {DISTRICT_SCOPE: ScopeRow(DISTRICT_SCOPE, None)}
    read = ScopesRead(district_name="", scopes=result, personal={})
    rows = await session.execute(union_all(district, groups, populations, counts, personal))
    pending: dict[int, list[Any]] = defaultdict(list)
    for row in rows.all():
        kind, scope_id = row[0], row[1]
        if kind == "D":
            read.district_name = row[3]
        elif kind == "S":
            read.personal[int(row[6])] = CertificationStatus(row[3])
        elif kind == "G":
            entry = result.setdefault(scope_id, ScopeRow(scope_id, GroupKind(row[2])))
            entry.name = row[3]
            if row[4] is not None:
                entry.viewer_roles.add(MembershipRole(row[4]))
        else:
            pending[scope_id].append(row)
    for scope_id, scope_rows in pending.items():
        entry = result.get(scope_id)
        if entry is None:
            continue  # a counter of a group that is not asked for
        for row in scope_rows:
            if row[0] == "P":
                entry.population = int(row[9])
            else:
                entry.per_module[int(row[6])] = ModuleCounts(int(row[7]), int(row[8]))
    return read
