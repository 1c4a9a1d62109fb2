"""Roster changes made through the API: stats inclusion, with its history."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from models.enums import StatsInclusion
from models.errors import BadInput, Forbidden
from models.rules import permissions
from models.rules.permissions import IntegrationViewer, UserViewer, Viewer
from models.services import stats
from models.services.common import lock_user
from models.tables import StatsInclusionChange, User, utcnow

MAX_REASON_LENGTH = 2_000


def actor_name(viewer: Viewer) -> str:
    if isinstance(viewer, IntegrationViewer):
        return f"integration:{viewer.name}"
    return viewer.key


async def set_stats_inclusion(
    session: AsyncSession,
    viewer: Viewer,
    user_id: int,
    inclusion: StatsInclusion,
    reason: str | None,
) -> User:
    """Include or exclude a user from Comparison Stats; setting the same value is a no-op."""
    if not permissions.can_change_stats_inclusion(viewer):
        if isinstance(viewer, IntegrationViewer):
            raise Forbidden("This integration token lacks the roster:write scope.")
        raise Forbidden("Only district PL managers and users managers can change stats inclusion.")
    if reason is not None and len(reason) > MAX_REASON_LENGTH:
        raise BadInput(f"reason must be at most {MAX_REASON_LENGTH} characters.")
    user = await lock_user(session, viewer.district_id, user_id)
    if user.stats_inclusion is inclusion:
        return user
    before = await stats.standing_of(session, user)
    previous = user.stats_inclusion
    user.stats_inclusion = inclusion
    await stats.apply(
        session, user.district_id, stats.delta(before, await stats.standing_of(session, user))
    )
    session.add(
        StatsInclusionChange(
            district_id=user.district_id,
            user_id=user.id,
            from_inclusion=previous,
            to_inclusion=inclusion,
            changed_by=actor_name(viewer),
            changed_by_user_id=viewer.user_id if isinstance(viewer, UserViewer) else None,
            reason=reason,
            changed_at=utcnow(),
        )
    )
    await session.flush()
    return user
