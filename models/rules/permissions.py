"""Who may do what (DOMAIN.md "Permissions at a glance").

Each decision is a pure function of the viewer and facts the caller has loaded. Whether a
record belongs to the viewer's district is checked before these run: a record of another
district is reported as not found, never as forbidden.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from models.enums import IntegrationScope, MembershipRole


@dataclass(frozen=True, slots=True)
class UserViewer:
    user_id: int
    district_id: int
    key: str
    is_pl_manager: bool = False
    is_users_manager: bool = False


@dataclass(frozen=True, slots=True)
class IntegrationViewer:
    name: str
    district_id: int
    scopes: frozenset[IntegrationScope]

    def has(self, scope: IntegrationScope) -> bool:
        return scope in self.scopes


Viewer = UserViewer | IntegrationViewer


def is_user(viewer: Viewer) -> bool:
    return isinstance(viewer, UserViewer)


def _integration_with(viewer: Viewer, scope: IntegrationScope) -> bool:
    return isinstance(viewer, IntegrationViewer) and viewer.has(scope)


def can_use_own_dashboard(viewer: Viewer) -> bool:
    """Own badges, personal stats and preferences: every user, no integration."""
    return is_user(viewer)


def can_read_district_stats(viewer: Viewer) -> bool:
    return is_user(viewer) or _integration_with(viewer, IntegrationScope.STATS_READ)


def can_read_group_stats(viewer: Viewer, roles_in_group: Collection[MembershipRole]) -> bool:
    """Own groups' averages for any user; every group for a district PL manager."""
    if isinstance(viewer, UserViewer):
        return viewer.is_pl_manager or bool(roles_in_group)
    return viewer.has(IntegrationScope.STATS_READ)


def can_view_individual_results(
    viewer: Viewer, *, is_district_scope: bool, roles_in_group: Collection[MembershipRole]
) -> bool:
    """District PL managers see every scope; a group's managers see that group."""
    if isinstance(viewer, UserViewer):
        if viewer.is_pl_manager:
            return True
        return not is_district_scope and MembershipRole.MANAGER in roles_in_group
    return viewer.has(IntegrationScope.STATS_READ)


def can_review(
    viewer: Viewer,
    *,
    learner_id: int,
    learner_group_ids: Collection[int],
    viewer_managed_group_ids: Collection[int],
) -> bool:
    """A district PL manager, or a manager of a group the learner is a member of; never the
    learner, never an integration."""
    if not isinstance(viewer, UserViewer) or viewer.user_id == learner_id:
        return False
    if viewer.is_pl_manager:
        return True
    return not set(learner_group_ids).isdisjoint(viewer_managed_group_ids)


def can_change_stats_inclusion(viewer: Viewer) -> bool:
    if isinstance(viewer, UserViewer):
        return viewer.is_pl_manager or viewer.is_users_manager
    return viewer.has(IntegrationScope.ROSTER_WRITE)


def can_write_progress_for(viewer: Viewer, learner_id: int) -> bool:
    """Users record their own page progress; only integrations write it for someone else."""
    if isinstance(viewer, UserViewer):
        return viewer.user_id == learner_id
    return viewer.has(IntegrationScope.PROGRESS_WRITE)


def can_record_pre_assessment(viewer: Viewer) -> bool:
    """Results come from the assessment engine, never from the learner."""
    return _integration_with(viewer, IntegrationScope.PROGRESS_WRITE)


def can_read_feed(viewer: Viewer) -> bool:
    return is_user(viewer) or _integration_with(viewer, IntegrationScope.STATS_READ)


def can_view_user_progress(
    viewer: Viewer, *, target_user_id: int, manages_a_group_of_target: bool
) -> bool:
    """A user's badges, certifications and memberships: the user, district PL managers, the
    managers of a group the user is a member of, and stats readers among integrations: the
    people who may see that user in Individual User Results (users managers may not)."""
    if isinstance(viewer, UserViewer):
        return viewer.user_id == target_user_id or viewer.is_pl_manager or manages_a_group_of_target
    return viewer.has(IntegrationScope.STATS_READ)


def can_view_roster_flags(viewer: Viewer, *, target_user_id: int) -> bool:
    """A user's DCF access and stats inclusion: the user, and whoever manages inclusion or
    reads stats (district PL and users managers, integrations with stats:read or
    roster:write)."""
    if isinstance(viewer, UserViewer):
        return viewer.user_id == target_user_id or viewer.is_pl_manager or viewer.is_users_manager
    return viewer.has(IntegrationScope.STATS_READ) or viewer.has(IntegrationScope.ROSTER_WRITE)
