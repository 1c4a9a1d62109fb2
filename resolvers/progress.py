"""Mutations on learning progress: decode arguments, run the service, commit once."""

from __future__ import annotations

import structlog

from models.enums import StatsInclusion
from models.services import progress as service
from models.services import roster
from models.tables import User
from resolvers.context import Context
from resolvers.ids import decode_pk

log = structlog.get_logger("microcred.progress")


async def _announce(ctx: Context, refresh: service.ModuleRefresh) -> None:
    """After commit, the one place that publishes new feed items (and says so in the log)."""
    for cert in refresh.earned:
        log.info(
            "Micro-certification earned",
            user_id=cert.user_id,
            module_id=cert.module_id,
            level=cert.level.value,
            earned_by=cert.earned_by.value,
        )
    if ctx.publisher is not None and refresh.feed_item_ids:
        district = refresh.earned[0].district_id
        await ctx.publisher.committed((district, i) for i in refresh.feed_item_ids)


def _optional_user(user_id: str | None) -> int | None:
    return None if user_id is None else decode_pk(user_id, "User", "userId")


async def start_page(ctx: Context, page_id: str, user_id: str | None) -> service.ProgressOutcome:
    viewer = ctx.require_viewer()
    page_pk, user_pk = decode_pk(page_id, "Page", "pageId"), _optional_user(user_id)
    async with ctx.db.write() as session:
        outcome = await service.start_page(session, viewer, page_pk, user_pk)
    await _announce(ctx, outcome.refresh)
    return outcome


async def complete_page(ctx: Context, page_id: str, user_id: str | None) -> service.ProgressOutcome:
    viewer = ctx.require_viewer()
    page_pk, user_pk = decode_pk(page_id, "Page", "pageId"), _optional_user(user_id)
    async with ctx.db.write() as session:
        outcome = await service.complete_page(session, viewer, page_pk, user_pk)
    await _announce(ctx, outcome.refresh)
    return outcome


async def record_pre_assessment(
    ctx: Context, user_id: str, module_id: str, score: float
) -> service.PreAssessmentOutcome:
    viewer = ctx.require_viewer()
    user_pk = decode_pk(user_id, "User", "userId")
    module_pk = decode_pk(module_id, "Module", "moduleId")
    async with ctx.db.write() as session:
        outcome = await service.record_pre_assessment(session, viewer, user_pk, module_pk, score)
    await _announce(ctx, outcome.refresh)
    return outcome


async def review_submission(
    ctx: Context, submission_id: str, approve: bool, feedback: str | None
) -> service.ReviewOutcome:
    viewer = ctx.require_viewer()
    pk = decode_pk(submission_id, "Submission", "submissionId")
    async with ctx.db.write() as session:
        outcome = await service.review_submission(session, viewer, pk, approve, feedback)
    await _announce(ctx, outcome.refresh)
    return outcome


async def record_login(ctx: Context) -> User:
    viewer = ctx.require_viewer()
    async with ctx.db.write() as session:
        return await service.record_login(session, viewer)


async def update_preferences(
    ctx: Context,
    share_certifications_in_feed: bool | None,
    show_micro_certifications: bool | None,
    show_personal_stats: bool | None,
) -> User:
    viewer = ctx.require_viewer()
    async with ctx.db.write() as session:
        return await service.update_preferences(
            session,
            viewer,
            share_certifications_in_feed=share_certifications_in_feed,
            show_micro_certifications=show_micro_certifications,
            show_personal_stats=show_personal_stats,
        )


async def set_stats_inclusion(
    ctx: Context, user_id: str, inclusion: StatsInclusion, reason: str | None
) -> User:
    viewer = ctx.require_viewer()
    user_pk = decode_pk(user_id, "User", "userId")
    async with ctx.db.write() as session:
        return await roster.set_stats_inclusion(session, viewer, user_pk, inclusion, reason)
