"""Write services for learning progress: pages, reviews, pre-assessments.

Each service takes a session in a write transaction and never commits: the boundary (a
mutation, the importer, a CLI command) commits once. Every change that can move a status
ends in `refresh_user_module`, the one place where statuses are derived and certifications
earned, so the rule is applied the same way whatever the trigger.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.enums import (
    CertificationStatus,
    FeedItemKind,
    Level,
    MembershipRole,
    PageState,
    SubmissionStatus,
)
from models.errors import BadInput, Forbidden, NotFound
from models.rules import permissions, progress, status
from models.rules.permissions import IntegrationViewer, UserViewer, Viewer
from models.services import stats
from models.services.common import (
    get_user,
    get_visible_module,
    get_visible_page,
    group_ids,
    lock_user,
    upsert_insert,
)
from models.tables import (
    Certification,
    FeedItem,
    FeedSequence,
    ModuleStatus,
    Page,
    PageProgress,
    PreAssessmentResult,
    Submission,
    User,
    utcnow,
)

MAX_FEEDBACK_LENGTH = 10_000


@dataclass(slots=True)
class ModuleRefresh:
    """The statuses of one (user, module) after a change, and what the change earned."""

    statuses: dict[Level, CertificationStatus]
    earned: list[Certification] = field(default_factory=list)
    feed_item_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class ProgressOutcome:
    page: Page
    state: PageState
    refresh: ModuleRefresh
    submission: Submission | None = None


@dataclass(slots=True)
class PreAssessmentOutcome:
    result: PreAssessmentResult
    refresh: ModuleRefresh


@dataclass(slots=True)
class ReviewOutcome:
    submission: Submission
    state: PageState
    refresh: ModuleRefresh


def _of(user: User, module_id: int, model: Any) -> tuple[Any, ...]:
    """The rows of one learner on one module, in a table keyed by district, user, module."""
    return (
        model.district_id == user.district_id,
        model.user_id == user.id,
        model.module_id == module_id,
    )


async def refresh_user_module(
    session: AsyncSession, user: User, module_id: int, now: datetime | None = None
) -> ModuleRefresh:
    """Derive the user's statuses on a module, earn what the rules now grant, store changes.

    The caller holds the user's row lock (see `lock_user`). The unique constraint on
    certifications backs "earned once" even if that were ever missed: a second insert is
    ignored and earns nothing.
    """
    now = now or utcnow()
    pages = [
        status.PageInfo(id=p.id, level=p.level, requires_review=p.requires_review)
        for p in (
            await session.execute(
                select(Page.id, Page.level, Page.requires_review).where(Page.module_id == module_id)
            )
        ).all()
    ]
    page_states = dict(
        (
            await session.execute(
                select(PageProgress.page_id, PageProgress.state).where(
                    *_of(user, module_id, PageProgress),
                )
            )
        ).all()
    )
    passed = (
        await session.execute(
            select(PreAssessmentResult.id)
            .where(
                *_of(user, module_id, PreAssessmentResult),
                PreAssessmentResult.passed.is_(True),
            )
            .limit(1)
        )
    ).first() is not None
    certified = set(
        (
            await session.execute(
                select(Certification.level).where(
                    *_of(user, module_id, Certification),
                )
            )
        ).scalars()
    )
    stored = dict(
        (
            await session.execute(
                select(ModuleStatus.level, ModuleStatus.status).where(
                    *_of(user, module_id, ModuleStatus),
                )
            )
        ).all()
    )

    result = ModuleRefresh(statuses={})
    changes: list[tuple[int, Level, CertificationStatus, CertificationStatus]] = []
    for level in Level:
        if level not in certified and status.has_level(pages, level):
            how = status.earned_by(pages, level, page_states, passed)
            if how is not None:
                cert = await _earn(session, user, module_id, level, how, now)
                if cert is not None:
                    certified.add(level)
                    result.earned.append(cert)
                    if user.share_certifications_in_feed:
                        result.feed_item_ids.append(await _add_feed_item(session, cert, now))
        if status.has_level(pages, level) or level in certified:
            new = status.derive_status(pages, level, page_states, level in certified)
            result.statuses[level] = new
        else:
            new = CertificationStatus.NOT_STARTED
        old = stored.get(level) or CertificationStatus.NOT_STARTED
        if old is not new:
            await _store_status(session, user, module_id, level, new, now)
            changes.append((module_id, level, old, new))
    await stats.statuses_changed(session, user, changes)
    return result


async def _earn(
    session: AsyncSession,
    user: User,
    module_id: int,
    level: Level,
    how: status.EarnedBy,
    now: datetime,
) -> Certification | None:
    stmt = (
        upsert_insert(session, Certification)
        .values(
            district_id=user.district_id,
            user_id=user.id,
            module_id=module_id,
            level=level,
            earned_by=how,
            earned_at=now,
        )
        .on_conflict_do_nothing(index_elements=["district_id", "user_id", "module_id", "level"])
        .returning(Certification.id)
    )
    cert_id = (await session.execute(stmt)).scalar_one_or_none()
    if cert_id is None:
        return None
    return Certification(
        id=cert_id,
        district_id=user.district_id,
        user_id=user.id,
        module_id=module_id,
        level=level,
        earned_by=how,
        earned_at=now,
    )


async def _next_feed_position(session: AsyncSession, district_id: int) -> int:
    """The district's next feed position. The upsert locks the district's sequence row until
    commit, so positions become visible in order (see FeedSequence)."""
    stmt = upsert_insert(session, FeedSequence).values(district_id=district_id, last_seq=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["district_id"], set_={"last_seq": FeedSequence.last_seq + 1}
    ).returning(FeedSequence.last_seq)
    return (await session.execute(stmt)).scalar_one()


async def _add_feed_item(session: AsyncSession, cert: Certification, now: datetime) -> int:
    # Written in the certification's transaction: the feed item is also the outbox row
    # that the feed relay publishes after commit.
    item = FeedItem(
        district_id=cert.district_id,
        seq=await _next_feed_position(session, cert.district_id),
        user_id=cert.user_id,
        kind=FeedItemKind.CERTIFICATION_EARNED,
        certification_id=cert.id,
        created_at=now,
    )
    session.add(item)
    await session.flush()
    return item.id


async def _store_status(
    session: AsyncSession,
    user: User,
    module_id: int,
    level: Level,
    new: CertificationStatus,
    now: datetime,
) -> None:
    """Persist a changed status; NOT_STARTED is stored as no row."""
    key = dict(district_id=user.district_id, user_id=user.id, module_id=module_id, level=level)
    if new is CertificationStatus.NOT_STARTED:
        await session.execute(
            delete(ModuleStatus).where(*(getattr(ModuleStatus, k) == v for k, v in key.items()))
        )
        return
    stmt = upsert_insert(session, ModuleStatus).values(**key, status=new, updated_at=now)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=list(key), set_={"status": new, "updated_at": now}
        )
    )


async def refresh_module_statuses(session: AsyncSession, module_ids: Collection[int]) -> None:
    """Re-derive statuses of every learner with progress on these modules (content changed)."""
    if not module_ids:
        return
    learners = (
        await session.execute(
            select(PageProgress.district_id, PageProgress.user_id, PageProgress.module_id)
            .where(PageProgress.module_id.in_(list(module_ids)))
            .distinct()
            .order_by(PageProgress.district_id, PageProgress.user_id, PageProgress.module_id)
        )
    ).all()
    for district_id, user_id, module_id in learners:
        user = await lock_user(session, district_id, user_id)
        await refresh_user_module(session, user, module_id)


async def _target_learner(session: AsyncSession, viewer: Viewer, user_id: int | None) -> User:
    """Whose progress a request writes: the viewer's own, or (integrations) the given user's."""
    if user_id is None:
        if isinstance(viewer, IntegrationViewer):
            raise BadInput("userId is required when an integration records progress.")
        user_id = viewer.user_id
    if not permissions.can_write_progress_for(viewer, user_id):
        if isinstance(viewer, UserViewer):
            # Same answer whether or not the other user exists in the district.
            raise Forbidden("You can record page progress only for yourself.")
        raise Forbidden("This integration token lacks the progress:write scope.")
    return await lock_user(session, viewer.district_id, user_id)


async def _page_state(session: AsyncSession, user: User, page_id: int) -> PageProgress | None:
    return (
        await session.execute(
            select(PageProgress).where(
                PageProgress.district_id == user.district_id,
                PageProgress.user_id == user.id,
                PageProgress.page_id == page_id,
            )
        )
    ).scalar_one_or_none()


async def _apply_transition(
    session: AsyncSession,
    user: User,
    page: Page,
    row: PageProgress | None,
    step: progress.Transition,
    now: datetime,
) -> None:
    if not step.changed:
        return
    if row is None:
        row = PageProgress(
            district_id=user.district_id,
            user_id=user.id,
            page_id=page.id,
            module_id=page.module_id,
            state=step.new_state,
            started_at=now,
            updated_at=now,
        )
        session.add(row)
    row.state = step.new_state
    row.updated_at = now
    if step.new_state is PageState.COMPLETE:
        row.completed_at = now
    await session.flush()


async def start_page(
    session: AsyncSession, viewer: Viewer, page_id: int, user_id: int | None = None
) -> ProgressOutcome:
    page = await get_visible_page(session, viewer.district_id, page_id)
    user = await _target_learner(session, viewer, user_id)
    now = utcnow()
    row = await _page_state(session, user, page.id)
    step = progress.start(row.state if row else None)
    await _apply_transition(session, user, page, row, step, now)
    refresh = await refresh_user_module(session, user, page.module_id, now)
    return ProgressOutcome(page=page, state=step.new_state, refresh=refresh)


async def complete_page(
    session: AsyncSession, viewer: Viewer, page_id: int, user_id: int | None = None
) -> ProgressOutcome:
    """Complete a page; a review page is submitted for review instead."""
    page = await get_visible_page(session, viewer.district_id, page_id)
    user = await _target_learner(session, viewer, user_id)
    now = utcnow()
    row = await _page_state(session, user, page.id)
    step = progress.complete(row.state if row else None, page.requires_review)
    await _apply_transition(session, user, page, row, step, now)
    submission = None
    if step.opens_submission:
        submission = Submission(
            district_id=user.district_id,
            user_id=user.id,
            page_id=page.id,
            module_id=page.module_id,
            submitted_at=now,
            status=SubmissionStatus.PENDING,
        )
        session.add(submission)
        await session.flush()
    elif step.new_state is PageState.SUBMITTED:
        submission = await _pending_submission(session, user, page.id)
    refresh = await refresh_user_module(session, user, page.module_id, now)
    return ProgressOutcome(page=page, state=step.new_state, refresh=refresh, submission=submission)


async def _pending_submission(session: AsyncSession, user: User, page_id: int) -> Submission | None:
    return (
        await session.execute(
            select(Submission)
            .where(
                Submission.district_id == user.district_id,
                Submission.user_id == user.id,
                Submission.page_id == page_id,
                Submission.status == SubmissionStatus.PENDING,
            )
            .order_by(Submission.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def record_pre_assessment(
    session: AsyncSession, viewer: Viewer, user_id: int, module_id: int, score: float
) -> PreAssessmentOutcome:
    """Store a result from the assessment engine; a pass earns Literacy (once)."""
    if not permissions.can_record_pre_assessment(viewer):
        if isinstance(viewer, UserViewer):
            raise Forbidden(
                "Pre-assessment results come from the assessment engine: only an integration "
                "token with the progress:write scope can record them."
            )
        raise Forbidden("This integration token lacks the progress:write scope.")
    if not status.valid_score(score):
        raise BadInput(f"score must be between 0 and 100, got {score:g}.")
    module = await get_visible_module(session, viewer.district_id, module_id)
    if module.pre_assessment_passing_score is None:
        raise BadInput(f'Module "{module.key}" has no pre-assessment.')
    user = await lock_user(session, viewer.district_id, user_id)
    now = utcnow()
    assert isinstance(viewer, IntegrationViewer)
    result = PreAssessmentResult(
        district_id=user.district_id,
        user_id=user.id,
        module_id=module.id,
        score=score,
        passing_score=module.pre_assessment_passing_score,
        passed=status.passes(score, module.pre_assessment_passing_score),
        recorded_by=f"integration:{viewer.name}",
        recorded_at=now,
    )
    session.add(result)
    await session.flush()
    refresh = await refresh_user_module(session, user, module.id, now)
    return PreAssessmentOutcome(result=result, refresh=refresh)


async def review_submission(
    session: AsyncSession,
    viewer: Viewer,
    submission_id: int,
    approve: bool,
    feedback: str | None,
) -> ReviewOutcome:
    """Approve (the page becomes COMPLETE) or return (RETURNED, resubmittable) a submission."""
    if not isinstance(viewer, UserViewer):
        raise Forbidden("Fluency submissions are reviewed by people, not integrations.")
    if feedback is not None and len(feedback) > MAX_FEEDBACK_LENGTH:
        raise BadInput(f"feedback must be at most {MAX_FEEDBACK_LENGTH} characters.")
    submission = (
        await session.execute(
            select(Submission).where(
                Submission.id == submission_id, Submission.district_id == viewer.district_id
            )
        )
    ).scalar_one_or_none()
    if submission is None:
        raise NotFound("No submission with that ID exists.")
    learner_groups = await group_ids(
        session, viewer.district_id, submission.user_id, MembershipRole.MEMBER
    )
    managed = await group_ids(session, viewer.district_id, viewer.user_id, MembershipRole.MANAGER)
    if not permissions.can_review(
        viewer,
        learner_id=submission.user_id,
        learner_group_ids=learner_groups,
        viewer_managed_group_ids=managed,
    ):
        raise Forbidden(
            "Only a district PL manager, or a manager of a school or cohort the learner is a "
            "member of, can review this submission (never the learner)."
        )
    learner = await lock_user(session, viewer.district_id, submission.user_id)
    await session.refresh(submission)  # re-read under the learner's lock
    page = await get_visible_page(session, viewer.district_id, submission.page_id)
    row = await _page_state(session, learner, page.id)
    decided = SubmissionStatus.APPROVED if approve else SubmissionStatus.RETURNED
    now = utcnow()
    if submission.status is not SubmissionStatus.PENDING:
        if submission.status is decided:
            refresh = await refresh_user_module(session, learner, page.module_id, now)
            return ReviewOutcome(submission, row.state if row else PageState.STARTED, refresh)
        raise BadInput(
            f"This submission was already {submission.status.value.lower()}; "
            "a decision cannot be changed."
        )
    try:
        step = progress.review(row.state if row else None, approve)
    except progress.InvalidTransition as exc:
        raise BadInput("This page is not waiting for review.") from exc
    submission.status = decided
    submission.reviewed_by_id = viewer.user_id
    submission.reviewed_at = now
    submission.feedback = feedback
    await _apply_transition(session, learner, page, row, step, now)
    refresh = await refresh_user_module(session, learner, page.module_id, now)
    return ReviewOutcome(submission, step.new_state, refresh)


async def record_login(session: AsyncSession, viewer: Viewer) -> User:
    """The platform calls this at sign-in; the first call sets firstLoginAt for good."""
    if not isinstance(viewer, UserViewer):
        raise Forbidden("Only a user signs in; integration tokens cannot record a login.")
    user = await lock_user(session, viewer.district_id, viewer.user_id)
    now = utcnow()
    user.last_login_at = now
    if user.first_login_at is None:
        # From now on an included user counts in the charts of every scope they belong to.
        user.first_login_at = now
        await stats.apply(
            session,
            user.district_id,
            stats.delta(stats.Standing(counted=False), await stats.standing_of(session, user)),
        )
    await session.flush()
    return user


async def update_preferences(
    session: AsyncSession,
    viewer: Viewer,
    *,
    share_certifications_in_feed: bool | None = None,
    show_micro_certifications: bool | None = None,
    show_personal_stats: bool | None = None,
) -> User:
    if not permissions.can_use_own_dashboard(viewer):
        raise Forbidden("Preferences belong to a user; integration tokens have none.")
    assert isinstance(viewer, UserViewer)
    user = await get_user(session, viewer.district_id, viewer.user_id)
    if share_certifications_in_feed is not None:
        user.share_certifications_in_feed = share_certifications_in_feed
    if show_micro_certifications is not None:
        user.show_micro_certifications = show_micro_certifications
    if show_personal_stats is not None:
        user.show_personal_stats = show_personal_stats
    await session.flush()
    return user
