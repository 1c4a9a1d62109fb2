"""The review queue: pending Fluency submissions the viewer may review."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select

from models.enums import MembershipRole, SubmissionStatus
from models.errors import Forbidden
from models.rules.permissions import UserViewer
from models.tables import Membership, Submission
from resolvers.context import Context
from resolvers.pagination import check_first, decode_cursor, encode_cursor

CURSOR_KIND = "review-queue"


@dataclass(frozen=True, slots=True)
class SubmissionPage:
    rows: list[Submission]
    cursors: list[str]
    has_next: bool
    total: int


def _queue(viewer: UserViewer) -> Select[tuple[Submission]]:
    query = select(Submission).where(
        Submission.district_id == viewer.district_id,
        Submission.status == SubmissionStatus.PENDING,
        Submission.user_id != viewer.user_id,
    )
    if viewer.is_pl_manager:
        return query
    managed = select(Membership.group_id).where(
        Membership.district_id == viewer.district_id,
        Membership.user_id == viewer.user_id,
        Membership.role == MembershipRole.MANAGER,
    )
    learners = select(Membership.user_id).where(
        Membership.district_id == viewer.district_id,
        Membership.role == MembershipRole.MEMBER,
        Membership.group_id.in_(managed),
    )
    return query.where(Submission.user_id.in_(learners))


async def review_queue(ctx: Context, first: int | None, after: str | None) -> SubmissionPage:
    viewer = ctx.require_viewer()
    if not isinstance(viewer, UserViewer):
        raise Forbidden("The review queue belongs to reviewers; integrations cannot review.")
    size = check_first(first, 50)
    position = decode_cursor(CURSOR_KIND, after, 1, types=(int,))
    base = _queue(viewer)
    page_query = base.order_by(Submission.id).limit(size + 1)
    if position is not None:
        page_query = page_query.where(Submission.id > int(position[0]))
    async with ctx.db.read() as session:
        rows = list((await session.execute(page_query)).scalars())
        total = (
            await session.execute(select(func.count()).select_from(base.subquery()))
        ).scalar_one()
    has_next = len(rows) > size
    rows = rows[:size]
    return SubmissionPage(
        rows=rows,
        cursors=[encode_cursor(CURSOR_KIND, r.id) for r in rows],
        has_next=has_next,
        total=total,
    )
