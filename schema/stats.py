"""Comparison Stats, scope stats and Individual User Results."""

from __future__ import annotations

from typing import Self

import strawberry
from strawberry import relay

from models.rules.stats import StatusCounts as StatusCountsData
from resolvers.results import ResultFilter as ResultFilterEnum
from resolvers.results import ResultRow
from resolvers.stats import ComparisonView, ScopeView
from resolvers.stats import ScopeKind as ScopeKindEnum
from schema.enums import CertificationStatus, Level
from schema.info import Info
from schema.types import Module, User

ScopeKind = strawberry.enum(ScopeKindEnum)
ResultFilter = strawberry.enum(ResultFilterEnum)


@strawberry.input(description="A stats scope: the district (id omitted), a school or a cohort.")
class ScopeInput:
    kind: ScopeKind
    id: strawberry.ID | None = None


@strawberry.type(description="How many are Not Started, In Progress and Complete.")
class StatusCounts:
    not_started: int
    in_progress: int
    complete: int
    total: int
    not_started_percent: float
    in_progress_percent: float
    complete_percent: float

    @classmethod
    def from_data(cls, c: StatusCountsData) -> Self:
        return cls(
            not_started=c.not_started,
            in_progress=c.in_progress,
            complete=c.complete,
            total=c.total,
            not_started_percent=c.percent(c.not_started),
            in_progress_percent=c.percent(c.in_progress),
            complete_percent=c.percent(c.complete),
        )


@strawberry.type
class Scope:
    kind: ScopeKind
    id: strawberry.ID = strawberry.field(description="The District, School or Cohort ID.")
    name: str
    can_view_individual_results: bool


@strawberry.type(description="The counts of one scope for a module (or all modules) and level.")
class ScopeStats:
    scope: Scope
    counts: StatusCounts
    counted_users: int = strawberry.field(
        description="Users counted in this scope: included, logged in, and (for a group) members."
    )
    module_count: int = strawberry.field(
        description="Modules averaged over: 1 for one module, else all that have the level."
    )

    @classmethod
    def from_view(cls, v: ScopeView) -> Self:
        return cls(
            scope=Scope(
                kind=v.kind,
                id=strawberry.ID(v.global_id),
                name=v.name,
                can_view_individual_results=v.can_view_individual_results,
            ),
            counts=StatusCounts.from_data(v.counts),
            counted_users=v.counted_users,
            module_count=v.module_count,
        )


@strawberry.type
class ComparisonStats:
    level: Level
    module: Module | None = strawberry.field(description="Null for the all-modules average.")
    personal: StatusCounts
    stats_excluded: bool = strawberry.field(
        description='When true, show "Your stats are currently being excluded."'
    )
    district: ScopeStats
    schools: list[ScopeStats]
    cohorts: list[ScopeStats]

    @classmethod
    def from_view(cls, v: ComparisonView) -> Self:
        return cls(
            level=v.level,
            module=Module.from_row(v.module) if v.module else None,
            personal=StatusCounts.from_data(v.personal),
            stats_excluded=v.stats_excluded,
            district=ScopeStats.from_view(v.district),
            schools=[ScopeStats.from_view(s) for s in v.schools],
            cohorts=[ScopeStats.from_view(s) for s in v.cohorts],
        )


@strawberry.type
class IndividualResult:
    status: CertificationStatus
    has_logged_in: bool = strawberry.field(
        description="False: shown greyed with an empty white dot, and not counted in charts."
    )
    _row: strawberry.Private[ResultRow]

    @strawberry.field
    async def user(self, info: Info) -> User:
        row = await info.context.loaders.user_by_id.load(self._row.user_id)
        assert row is not None
        return User.from_row(row)


@strawberry.type
class IndividualResultEdge:
    cursor: str
    node: IndividualResult


@strawberry.type
class IndividualResultConnection:
    edges: list[IndividualResultEdge]
    page_info: relay.PageInfo
    total_count: int
