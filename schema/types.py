"""Object types. Each maps a row (kept private) to the contract's fields; any field that needs
more data delegates to a resolver, which batches through the request's loaders."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry
from strawberry import relay

from models import tables
from models.enums import DistrictRole as DistrictRoleEnum
from models.enums import GroupKind
from models.rules import counting
from resolvers import modules as module_resolvers
from resolvers import users as user_resolvers
from resolvers.users import BadgeData, MembershipData
from schema.enums import (
    Catalog,
    CertificationMethod,
    CertificationStatus,
    DistrictRole,
    Level,
    MembershipRole,
    PageState,
    StatsInclusion,
    SubmissionStatus,
)
from schema.info import Info


@strawberry.type
class District(relay.Node):
    id: relay.NodeID[int]
    key: str
    name: str

    @classmethod
    def from_row(cls, row: tables.District) -> Self:
        return cls(id=row.id, key=row.key, name=row.name)


@strawberry.interface(description="A school or a cohort of the district.")
class Group(relay.Node):
    id: relay.NodeID[int]
    key: str
    name: str

    @staticmethod
    def from_row(row: tables.Group) -> School | Cohort:
        cls = School if row.kind is GroupKind.SCHOOL else Cohort
        return cls(id=row.id, key=row.key, name=row.name)


@strawberry.type
class School(Group):
    pass


@strawberry.type
class Cohort(Group):
    pass


@strawberry.type
class Membership:
    group: Group
    role: MembershipRole

    @classmethod
    def from_data(cls, data: MembershipData) -> Self:
        return cls(group=Group.from_row(data.group), role=data.role)


@strawberry.type
class Page(relay.Node):
    id: relay.NodeID[int]
    key: str
    title: str
    level: Level
    requires_review: bool
    position: int
    _row: strawberry.Private[tables.Page]

    @classmethod
    def from_row(cls, row: tables.Page) -> Self:
        return cls(
            id=row.id,
            key=row.key,
            title=row.title,
            level=row.level,
            requires_review=row.requires_review,
            position=row.position,
            _row=row,
        )

    @strawberry.field
    async def module(self, info: Info) -> Module:
        return Module.from_row(await module_resolvers.page_module(info.context, self._row))


@strawberry.type
class Module(relay.Node):
    id: relay.NodeID[int]
    key: str
    title: str
    catalog: Catalog
    pre_assessment_passing_score: float | None
    _row: strawberry.Private[tables.Module]

    @classmethod
    def from_row(cls, row: tables.Module) -> Self:
        return cls(
            id=row.id,
            key=row.key,
            title=row.title,
            catalog=row.catalog,
            pre_assessment_passing_score=row.pre_assessment_passing_score,
            _row=row,
        )

    @strawberry.field(description="Whether the module has a pre-assessment.")
    def has_pre_assessment(self) -> bool:
        return self._row.pre_assessment_passing_score is not None

    @strawberry.field(description="False for a module without Fluency pages: Literacy only.")
    async def has_fluency(self, info: Info) -> bool:
        return await module_resolvers.has_fluency(info.context, self._row)

    @strawberry.field(description="Marked by the viewer's district as a district PL goal.")
    async def is_district_goal(self, info: Info) -> bool:
        return await module_resolvers.is_district_goal(info.context, self._row)

    @strawberry.field(description="The module's pages, in order.")
    async def pages(self, info: Info) -> list[Page]:
        return [Page.from_row(p) for p in await module_resolvers.pages(info.context, self._row)]


@strawberry.type(description="A user's status on one module: Literacy check, Fluency star.")
class Badge:
    module: Module
    literacy: CertificationStatus
    fluency: CertificationStatus | None = strawberry.field(
        description="Null when the module has no Fluency level."
    )

    @classmethod
    def from_data(cls, data: BadgeData) -> Self:
        return cls(
            module=Module.from_row(data.module), literacy=data.literacy, fluency=data.fluency
        )


@strawberry.type(description="An earned micro-certification; permanent once earned.")
class Certification:
    level: Level
    earned_by: CertificationMethod
    earned_at: datetime
    _row: strawberry.Private[tables.Certification]

    @classmethod
    def from_row(cls, row: tables.Certification) -> Self:
        return cls(level=row.level, earned_by=row.earned_by, earned_at=row.earned_at, _row=row)

    @strawberry.field
    async def module(self, info: Info) -> Module:
        return Module.from_row(await user_resolvers.user_module(info.context, self._row.module_id))


@strawberry.type
class Preferences:
    share_certifications_in_feed: bool = strawberry.field(
        description="Share new certifications in the district news feed."
    )
    show_micro_certifications: bool
    show_personal_stats: bool


@strawberry.type
class User(relay.Node):
    id: relay.NodeID[int]
    key: str
    name: str
    _row: strawberry.Private[tables.User]

    @classmethod
    def from_row(cls, row: tables.User) -> Self:
        return cls(id=row.id, key=row.key, name=row.name, _row=row)

    @strawberry.field(description="Whether the user has logged in to the platform at least once.")
    def has_logged_in(self) -> bool:
        return self._row.first_login_at is not None

    @strawberry.field
    def first_login_at(self) -> datetime | None:
        return self._row.first_login_at

    @strawberry.field
    def roles(self) -> list[DistrictRole]:
        row = self._row
        return [
            role
            for role, held in (
                (DistrictRoleEnum.PL_MANAGER, row.is_pl_manager),
                (DistrictRoleEnum.USERS_MANAGER, row.is_users_manager),
            )
            if held
        ]

    @strawberry.field(description="Has access to the Digital Convergence Framework.")
    def dcf_access(self, info: Info) -> bool:
        user_resolvers.ensure_can_view_roster_flags(info.context, self._row)
        return self._row.dcf_access

    @strawberry.field
    def stats_inclusion(self, info: Info) -> StatsInclusion:
        user_resolvers.ensure_can_view_roster_flags(info.context, self._row)
        return self._row.stats_inclusion

    @strawberry.field(
        description="True when the user's stats are excluded from Comparison Stats; their "
        'dashboard then shows "Your stats are currently being excluded."'
    )
    def stats_excluded(self, info: Info) -> bool:
        user_resolvers.ensure_can_view_roster_flags(info.context, self._row)
        return not counting.included(self._row.stats_inclusion, self._row.dcf_access)

    @strawberry.field(description="One badge per module the user can see.")
    async def badges(self, info: Info) -> list[Badge]:
        return [Badge.from_data(b) for b in await user_resolvers.badges(info.context, self._row)]

    @strawberry.field
    async def certifications(self, info: Info) -> list[Certification]:
        rows = await user_resolvers.certifications(info.context, self._row)
        return [Certification.from_row(c) for c in rows]

    @strawberry.field
    async def memberships(self, info: Info) -> list[Membership]:
        rows = await user_resolvers.memberships(info.context, self._row)
        return [Membership.from_data(m) for m in rows]

    @strawberry.field(description="Changes of stats inclusion, newest first (managers only).")
    async def stats_inclusion_history(self, info: Info) -> list[StatsInclusionChange]:
        rows = await user_resolvers.inclusion_history(info.context, self._row)
        return [
            StatsInclusionChange(
                from_inclusion=r.from_inclusion,
                to_inclusion=r.to_inclusion,
                changed_by=r.changed_by,
                reason=r.reason,
                changed_at=r.changed_at,
            )
            for r in rows
        ]

    @strawberry.field(description="Dashboard preferences; visible to their owner only.")
    async def preferences(self, info: Info) -> Preferences:
        row = await user_resolvers.preferences(info.context, self._row)
        return Preferences(
            share_certifications_in_feed=row.share_certifications_in_feed,
            show_micro_certifications=row.show_micro_certifications,
            show_personal_stats=row.show_personal_stats,
        )


@strawberry.type(description="One change of a user's stats inclusion.")
class StatsInclusionChange:
    from_inclusion: StatsInclusion
    to_inclusion: StatsInclusion
    changed_by: str = strawberry.field(
        description='A user key, "integration:<name>", or "import" for a roster file.'
    )
    reason: str | None
    changed_at: datetime


@strawberry.type(description="A submission of a Fluency page that requires review.")
class Submission(relay.Node):
    id: relay.NodeID[int]
    submitted_at: datetime
    status: SubmissionStatus
    reviewed_at: datetime | None
    feedback: str | None
    _row: strawberry.Private[tables.Submission]

    @classmethod
    def from_row(cls, row: tables.Submission) -> Self:
        return cls(
            id=row.id,
            submitted_at=row.submitted_at,
            status=row.status,
            reviewed_at=row.reviewed_at,
            feedback=row.feedback,
            _row=row,
        )

    @strawberry.field(description="Server-assigned; submissions are not imported.")
    def key(self) -> str:
        return f"submission-{self._row.id}"

    @strawberry.field
    async def user(self, info: Info) -> User:
        row = await info.context.loaders.user_by_id.load(self._row.user_id)
        assert row is not None
        return User.from_row(row)

    @strawberry.field
    async def page(self, info: Info) -> Page:
        row = await info.context.loaders.page_by_id.load(self._row.page_id)
        assert row is not None
        return Page.from_row(row)


@strawberry.type
class PreAssessmentResult:
    score: float
    passing_score: float
    passed: bool
    recorded_at: datetime


@strawberry.type(description="The outcome of startPage or completePage.")
class PageProgressPayload:
    page: Page
    state: PageState
    badge: Badge
    earned: list[Certification] = strawberry.field(
        description="Certifications this call earned; empty when it earned none."
    )
    submission: Submission | None = strawberry.field(
        description="The submission awaiting review, for a review page."
    )


@strawberry.type
class PreAssessmentPayload:
    result: PreAssessmentResult
    badge: Badge
    earned: list[Certification]


@strawberry.type
class ReviewPayload:
    submission: Submission
    state: PageState = strawberry.field(description="The page's state after the review.")
    badge: Badge
    earned: list[Certification]
