from __future__ import annotations

import strawberry

from models.enums import Level as LevelEnum
from models.services.progress import ModuleRefresh, ProgressOutcome
from models.tables import Module as ModuleRow
from resolvers import progress as progress_resolvers
from resolvers import users as user_resolvers
from schema.enums import StatsInclusion
from schema.info import Info
from schema.types import (
    Badge,
    Certification,
    Module,
    Page,
    PageProgressPayload,
    PreAssessmentPayload,
    PreAssessmentResult,
    ReviewPayload,
    Submission,
    User,
)


@strawberry.input
class PreferencesInput:
    share_certifications_in_feed: bool | None = None
    show_micro_certifications: bool | None = None
    show_personal_stats: bool | None = None


def _badge(module: ModuleRow, refresh: ModuleRefresh) -> Badge:
    return Badge(
        module=Module.from_row(module),
        literacy=refresh.statuses[LevelEnum.LITERACY],
        fluency=refresh.statuses.get(LevelEnum.FLUENCY),
    )


def _earned(refresh: ModuleRefresh) -> list[Certification]:
    return [Certification.from_row(c) for c in refresh.earned]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Record a sign-in; the first one sets firstLoginAt.")
    async def record_login(self, info: Info) -> User:
        return User.from_row(await progress_resolvers.record_login(info.context))

    @strawberry.mutation(description="Start a page. userId is for integration tokens only.")
    async def start_page(
        self, info: Info, page_id: strawberry.ID, user_id: strawberry.ID | None = None
    ) -> PageProgressPayload:
        out = await progress_resolvers.start_page(info.context, page_id, user_id)
        return await _progress_payload(info, out)

    @strawberry.mutation(
        description="Complete a page; a page that requires review becomes SUBMITTED."
    )
    async def complete_page(
        self, info: Info, page_id: strawberry.ID, user_id: strawberry.ID | None = None
    ) -> PageProgressPayload:
        out = await progress_resolvers.complete_page(info.context, page_id, user_id)
        return await _progress_payload(info, out)

    @strawberry.mutation(description="Record a result from the assessment engine (0-100).")
    async def record_pre_assessment(
        self, info: Info, user_id: strawberry.ID, module_id: strawberry.ID, score: float
    ) -> PreAssessmentPayload:
        out = await progress_resolvers.record_pre_assessment(
            info.context, user_id, module_id, score
        )
        module = await user_resolvers.user_module(info.context, out.result.module_id)
        r = out.result
        return PreAssessmentPayload(
            result=PreAssessmentResult(
                score=r.score,
                passing_score=r.passing_score,
                passed=r.passed,
                recorded_at=r.recorded_at,
            ),
            badge=_badge(module, out.refresh),
            earned=_earned(out.refresh),
        )

    @strawberry.mutation(description="Approve or return a Fluency submission.")
    async def review_submission(
        self,
        info: Info,
        submission_id: strawberry.ID,
        approve: bool,
        feedback: str | None = None,
    ) -> ReviewPayload:
        out = await progress_resolvers.review_submission(
            info.context, submission_id, approve, feedback
        )
        module = await user_resolvers.user_module(info.context, out.submission.module_id)
        return ReviewPayload(
            submission=Submission.from_row(out.submission),
            state=out.state,
            badge=_badge(module, out.refresh),
            earned=_earned(out.refresh),
        )

    @strawberry.mutation(
        description="Include or exclude a user from Comparison Stats (PL managers, users "
        "managers, integrations with roster:write). Every change is recorded."
    )
    async def set_stats_inclusion(
        self,
        info: Info,
        user_id: strawberry.ID,
        inclusion: StatsInclusion,
        reason: str | None = None,
    ) -> User:
        row = await progress_resolvers.set_stats_inclusion(info.context, user_id, inclusion, reason)
        return User.from_row(row)

    @strawberry.mutation(description="Change the viewer's own preferences; omitted fields stay.")
    async def update_preferences(self, info: Info, input: PreferencesInput) -> User:
        return User.from_row(
            await progress_resolvers.update_preferences(
                info.context,
                input.share_certifications_in_feed,
                input.show_micro_certifications,
                input.show_personal_stats,
            )
        )


async def _progress_payload(info: Info, out: ProgressOutcome) -> PageProgressPayload:
    module = await user_resolvers.user_module(info.context, out.page.module_id)
    return PageProgressPayload(
        page=Page.from_row(out.page),
        state=out.state,
        badge=_badge(module, out.refresh),
        earned=_earned(out.refresh),
        submission=Submission.from_row(out.submission) if out.submission else None,
    )
