"""Keeping the Comparison Stats counters right, in the same transaction as every change.

Write paths call `apply` with the counter changes (a `rules.stats.delta` of two standings);
bulk paths (an import, synth, a repair) call `rebuild_district`, which recounts a district
from the raw tables with the same SQL that `microcred stats verify` compares against.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, delete, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from models.enums import CertificationStatus, Level, MembershipRole, StatsInclusion
from models.rules import counting
from models.rules.stats import DISTRICT_SCOPE, CounterKey, Standing, delta

__all__ = ["Standing", "apply", "delta", "rebuild_district", "standing_of", "statuses_changed"]
from models.services.common import upsert_insert
from models.tables import Membership, ModuleStatus, StatsCount, StatsPopulation, User


def included_clause() -> Any:
    """SQL twin of rules.counting.included: excluded users are never counted or listed."""
    return or_(
        User.stats_inclusion == StatsInclusion.INCLUDE,
        and_(User.stats_inclusion == StatsInclusion.DEFAULT, User.dcf_access.is_(False)),
    )


def counted_clause() -> Any:
    """SQL twin of rules.counting.counted; the oracle test holds the two together."""
    return and_(User.first_login_at.is_not(None), included_clause())


def is_counted(user: User) -> bool:
    return counting.counted(user.stats_inclusion, user.dcf_access, user.first_login_at)


async def member_groups(session: AsyncSession, district_id: int, user_id: int) -> frozenset[int]:
    rows = await session.execute(
        select(Membership.group_id).where(
            Membership.district_id == district_id,
            Membership.user_id == user_id,
            Membership.role == MembershipRole.MEMBER,
        )
    )
    return frozenset(rows.scalars())


async def standing_of(session: AsyncSession, user: User) -> Standing:
    """The user's standing as stored now (statuses and memberships read from the database)."""
    if not is_counted(user):
        return Standing(counted=False)
    statuses = {
        (m, lvl): s
        for m, lvl, s in (
            await session.execute(
                select(ModuleStatus.module_id, ModuleStatus.level, ModuleStatus.status).where(
                    ModuleStatus.district_id == user.district_id,
                    ModuleStatus.user_id == user.id,
                )
            )
        ).all()
    }
    groups = await member_groups(session, user.district_id, user.id)
    return Standing(counted=True, member_of=groups, statuses=statuses)


async def statuses_changed(
    session: AsyncSession,
    user: User,
    changes: list[tuple[int, Level, CertificationStatus, CertificationStatus]],
) -> None:
    """Move the counters for (module, level, old, new) status changes of one user, in one
    sorted apply (several applies in one transaction could lock counters out of order)."""
    if not changes or not is_counted(user):
        return
    groups = await member_groups(session, user.district_id, user.id)
    before = Standing(True, groups, {(m, lvl): old for m, lvl, old, _ in changes})
    after = Standing(True, groups, {(m, lvl): new for m, lvl, _, new in changes})
    await apply(session, user.district_id, delta(before, after))


async def apply(session: AsyncSession, district_id: int, changes: Mapping[CounterKey, int]) -> None:
    """Add the changes to the counters as atomic increments.

    Rows are touched in one fixed order (populations, then counts, each sorted by key) so two
    transactions moving the same counters cannot deadlock on PostgreSQL.
    """
    if not changes:
        return
    populations: dict[int, int] = defaultdict(int)
    counts: dict[tuple[int, Level, int], list[int]] = defaultdict(lambda: [0, 0])
    for (scope, module_id, level, status), change in changes.items():
        if module_id is None:
            populations[scope] += change
        else:
            assert level is not None
            slot = 0 if status is CertificationStatus.IN_PROGRESS else 1
            counts[(scope, level, module_id)][slot] += change
    if populations:
        stmt = upsert_insert(session, StatsPopulation)
        stmt = stmt.on_conflict_do_update(
            index_elements=["district_id", "scope_id"],
            set_={"counted": StatsPopulation.counted + stmt.excluded.counted},
        )
        await session.execute(
            stmt,
            [
                {"district_id": district_id, "scope_id": scope, "counted": change}
                for scope, change in sorted(populations.items())
            ],
        )
    if counts:
        stmt = upsert_insert(session, StatsCount)
        stmt = stmt.on_conflict_do_update(
            index_elements=["district_id", "scope_id", "level", "module_id"],
            set_={
                "in_progress": StatsCount.in_progress + stmt.excluded.in_progress,
                "complete": StatsCount.complete + stmt.excluded.complete,
            },
        )
        await session.execute(
            stmt,
            [
                {
                    "district_id": district_id,
                    "scope_id": scope,
                    "level": level,
                    "module_id": module_id,
                    "in_progress": ip,
                    "complete": c,
                }
                for (scope, level, module_id), (ip, c) in sorted(counts.items())
            ],
        )


@dataclass(frozen=True, slots=True)
class DistrictCounters:
    populations: dict[int, int]
    counts: dict[tuple[int, Level, int], tuple[int, int]]


def _recount_statements(district_id: int) -> tuple[object, object]:
    members = and_(
        Membership.district_id == User.district_id,
        Membership.user_id == User.id,
        Membership.role == MembershipRole.MEMBER,
    )
    population = union_all(
        select(literal(DISTRICT_SCOPE).label("scope_id"), func.count().label("n"))
        .select_from(User)
        .where(User.district_id == district_id, counted_clause()),
        select(Membership.group_id.label("scope_id"), func.count().label("n"))
        .select_from(User)
        .join(Membership, members)
        .where(User.district_id == district_id, counted_clause())
        .group_by(Membership.group_id),
    )
    ip = func.sum(case((ModuleStatus.status == CertificationStatus.IN_PROGRESS, 1), else_=0))
    done = func.sum(case((ModuleStatus.status == CertificationStatus.COMPLETE, 1), else_=0))
    on_status = and_(ModuleStatus.district_id == User.district_id, ModuleStatus.user_id == User.id)
    counts = union_all(
        select(
            literal(DISTRICT_SCOPE).label("scope_id"),
            ModuleStatus.level,
            ModuleStatus.module_id,
            ip.label("in_progress"),
            done.label("complete"),
        )
        .select_from(User)
        .join(ModuleStatus, on_status)
        .where(User.district_id == district_id, counted_clause())
        .group_by(ModuleStatus.level, ModuleStatus.module_id),
        select(
            Membership.group_id.label("scope_id"),
            ModuleStatus.level,
            ModuleStatus.module_id,
            ip.label("in_progress"),
            done.label("complete"),
        )
        .select_from(User)
        .join(Membership, members)
        .join(ModuleStatus, on_status)
        .where(User.district_id == district_id, counted_clause())
        .group_by(Membership.group_id, ModuleStatus.level, ModuleStatus.module_id),
    )
    return population, counts


async def recount(session: AsyncSession, district_id: int) -> DistrictCounters:
    """The counters of a district, recomputed from users, memberships and statuses."""
    population_sql, counts_sql = _recount_statements(district_id)
    populations = {scope: n for scope, n in (await session.execute(population_sql)).all() if n}
    counts = {
        (scope, Level(level), module_id): (int(ip), int(c))
        for scope, level, module_id, ip, c in (await session.execute(counts_sql)).all()
        if ip or c
    }
    return DistrictCounters(populations, counts)


async def stored(session: AsyncSession, district_id: int) -> DistrictCounters:
    populations = {
        scope: n
        for scope, n in (
            await session.execute(
                select(StatsPopulation.scope_id, StatsPopulation.counted).where(
                    StatsPopulation.district_id == district_id
                )
            )
        ).all()
        if n
    }
    counts = {
        (scope, Level(level), module_id): (ip, c)
        for scope, level, module_id, ip, c in (
            await session.execute(
                select(
                    StatsCount.scope_id,
                    StatsCount.level,
                    StatsCount.module_id,
                    StatsCount.in_progress,
                    StatsCount.complete,
                ).where(StatsCount.district_id == district_id)
            )
        ).all()
        if ip or c
    }
    return DistrictCounters(populations, counts)


async def rebuild_district(session: AsyncSession, district_id: int) -> DistrictCounters:
    """Replace a district's counters with a recount (bulk loads and repairs)."""
    fresh = await recount(session, district_id)
    await session.execute(delete(StatsPopulation).where(StatsPopulation.district_id == district_id))
    await session.execute(delete(StatsCount).where(StatsCount.district_id == district_id))
    if fresh.populations:
        await session.execute(
            upsert_insert(session, StatsPopulation),
            [
                {"district_id": district_id, "scope_id": s, "counted": n}
                for s, n in sorted(fresh.populations.items())
            ],
        )
    if fresh.counts:
        await session.execute(
            upsert_insert(session, StatsCount),
            [
                {
                    "district_id": district_id,
                    "scope_id": s,
                    "level": lvl,
                    "module_id": m,
                    "in_progress": ip,
                    "complete": c,
                }
                for (s, lvl, m), (ip, c) in sorted(fresh.counts.items())
            ],
        )
    return fresh


async def rebuild_districts(session: AsyncSession, district_ids: Iterable[int]) -> None:
    for district_id in sorted(set(district_ids)):
        await rebuild_district(session, district_id)


@dataclass(frozen=True, slots=True)
class Drift:
    """One counter whose stored value differs from a recount."""

    scope_id: int
    what: str
    stored: object
    recounted: object


def compare(stored_counters: DistrictCounters, fresh: DistrictCounters) -> list[Drift]:
    drifts = [
        Drift(scope, "counted users", stored_counters.populations.get(scope, 0), n)
        for scope in sorted(stored_counters.populations.keys() | fresh.populations.keys())
        if (n := fresh.populations.get(scope, 0)) != stored_counters.populations.get(scope, 0)
    ]
    for key in sorted(stored_counters.counts.keys() | fresh.counts.keys()):
        old = stored_counters.counts.get(key, (0, 0))
        new = fresh.counts.get(key, (0, 0))
        if old != new:
            scope, level, module_id = key
            drifts.append(
                Drift(scope, f"module {module_id} {level.value} (in progress, complete)", old, new)
            )
    return drifts
