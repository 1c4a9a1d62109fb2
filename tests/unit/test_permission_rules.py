"""DOMAIN.md "Permissions at a glance", one test table per row, every column.

| action | member | group manager | district PL manager | users manager | integration token |
|---|---|---|---|---|---|
| own badges, personal stats, preferences | yes | yes | yes | yes | - |
| district / own groups' averages | yes | yes | yes (all groups) | yes | with `stats:read` |
| individual results | no | own groups | whole district | no | with `stats:read` |
| review Fluency submissions | no | own groups' members | whole district | no | - |
| change stats inclusion | no | no | yes | yes | with `roster:write` |
| record pre-assessment results, page progress for a user | no | no | no | no | with
  `progress:write` |
| read the district news feed | yes | yes | yes | yes | with `stats:read` |

Cross-district access is decided before these rules (reported as not found), so every viewer
here belongs to the same district. A "member" / "group manager" holds that role in groups only
(no district-wide role); what they hold in the group at hand is passed in by the caller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.enums import IntegrationScope, MembershipRole
from models.rules.permissions import (
    IntegrationViewer,
    UserViewer,
    Viewer,
    can_change_stats_inclusion,
    can_read_district_stats,
    can_read_feed,
    can_read_group_stats,
    can_record_pre_assessment,
    can_review,
    can_use_own_dashboard,
    can_view_individual_results,
    can_view_roster_flags,
    can_view_user_progress,
    can_write_progress_for,
    is_user,
)

DISTRICT = 7
OWN_GROUP, OTHER_GROUP = 100, 200

MEMBER = UserViewer(user_id=1, district_id=DISTRICT, key="member")
GROUP_MANAGER = UserViewer(user_id=2, district_id=DISTRICT, key="group-manager")
PL_MANAGER = UserViewer(user_id=3, district_id=DISTRICT, key="pl-manager", is_pl_manager=True)
USERS_MANAGER = UserViewer(
    user_id=4, district_id=DISTRICT, key="users-manager", is_users_manager=True
)
USERS = {
    "member": MEMBER,
    "group-manager": GROUP_MANAGER,
    "pl-manager": PL_MANAGER,
    "users-manager": USERS_MANAGER,
}
LEARNER_ID = 50  # someone else, a member of OWN_GROUP unless said otherwise

ALL_SCOPES = frozenset(IntegrationScope)
NO_ROLE: frozenset[MembershipRole] = frozenset()
AS_MEMBER = frozenset({MembershipRole.MEMBER})
AS_MANAGER = frozenset({MembershipRole.MANAGER})
AS_BOTH = frozenset({MembershipRole.MEMBER, MembershipRole.MANAGER})


def integration(*scopes: IntegrationScope) -> IntegrationViewer:
    return IntegrationViewer(name="engine", district_id=DISTRICT, scopes=frozenset(scopes))


def integration_columns(needed: IntegrationScope | None) -> Iterator[Any]:
    """The integration column: allowed with the needed scope, refused without it.

    `needed=None` is a "-" cell: refused whatever the token's scopes.
    """
    for scope in IntegrationScope:
        yield pytest.param(integration(scope), needed is scope, id=f"token-only-{scope.value}")
    yield pytest.param(integration(*ALL_SCOPES), needed is not None, id="token-all-scopes")
    yield pytest.param(integration(), False, id="token-no-scope")
    if needed is not None:
        yield pytest.param(
            integration(*(ALL_SCOPES - {needed})), False, id=f"token-all-but-{needed.value}"
        )


def user_columns(expected: dict[str, bool]) -> Iterator[Any]:
    assert expected.keys() == USERS.keys()
    for name, viewer in USERS.items():
        yield pytest.param(viewer, expected[name], id=name)


# --- row: own badges, personal stats, preferences ---------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        *user_columns(
            {"member": True, "group-manager": True, "pl-manager": True, "users-manager": True}
        ),
        *integration_columns(None),
    ],
)
def test_own_dashboard(viewer: Viewer, expected: bool) -> None:
    assert can_use_own_dashboard(viewer) is expected


# --- row: district / own groups' averages -----------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        *user_columns(
            {"member": True, "group-manager": True, "pl-manager": True, "users-manager": True}
        ),
        *integration_columns(IntegrationScope.STATS_READ),
    ],
)
def test_district_averages(viewer: Viewer, expected: bool) -> None:
    assert can_read_district_stats(viewer) is expected


@pytest.mark.parametrize(
    ("viewer", "roles_in_group", "expected"),
    [
        pytest.param(MEMBER, AS_MEMBER, True, id="member-own-group"),
        pytest.param(MEMBER, NO_ROLE, False, id="member-other-group"),
        pytest.param(GROUP_MANAGER, AS_MANAGER, True, id="group-manager-managed-group"),
        pytest.param(GROUP_MANAGER, AS_BOTH, True, id="group-manager-member-and-manager"),
        pytest.param(GROUP_MANAGER, NO_ROLE, False, id="group-manager-other-group"),
        pytest.param(PL_MANAGER, NO_ROLE, True, id="pl-manager-any-group"),
        pytest.param(PL_MANAGER, AS_MEMBER, True, id="pl-manager-own-group"),
        pytest.param(USERS_MANAGER, AS_MEMBER, True, id="users-manager-own-group"),
        pytest.param(USERS_MANAGER, NO_ROLE, False, id="users-manager-other-group"),
    ],
)
def test_group_averages_for_users(
    viewer: UserViewer, roles_in_group: frozenset[MembershipRole], expected: bool
) -> None:
    assert can_read_group_stats(viewer, roles_in_group) is expected


@pytest.mark.parametrize(
    ("viewer", "expected"), list(integration_columns(IntegrationScope.STATS_READ))
)
def test_group_averages_for_integrations(viewer: IntegrationViewer, expected: bool) -> None:
    # An integration holds no group role; with stats:read it reads every group of its district.
    assert can_read_group_stats(viewer, NO_ROLE) is expected


# --- row: individual results ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "is_district_scope", "roles_in_group", "expected"),
    [
        # member: no
        pytest.param(MEMBER, True, NO_ROLE, False, id="member-district"),
        pytest.param(MEMBER, False, AS_MEMBER, False, id="member-own-group"),
        pytest.param(MEMBER, False, NO_ROLE, False, id="member-other-group"),
        # group manager: own groups
        pytest.param(GROUP_MANAGER, False, AS_MANAGER, True, id="group-manager-managed-group"),
        pytest.param(GROUP_MANAGER, False, AS_BOTH, True, id="group-manager-both-roles"),
        pytest.param(GROUP_MANAGER, False, AS_MEMBER, False, id="group-manager-where-member"),
        pytest.param(GROUP_MANAGER, False, NO_ROLE, False, id="group-manager-other-group"),
        pytest.param(GROUP_MANAGER, True, NO_ROLE, False, id="group-manager-district"),
        pytest.param(GROUP_MANAGER, True, AS_MANAGER, False, id="group-manager-district-roles"),
        # district PL manager: whole district
        pytest.param(PL_MANAGER, True, NO_ROLE, True, id="pl-manager-district"),
        pytest.param(PL_MANAGER, False, NO_ROLE, True, id="pl-manager-any-group"),
        pytest.param(PL_MANAGER, False, AS_MEMBER, True, id="pl-manager-own-group"),
        # users manager: no
        pytest.param(USERS_MANAGER, True, NO_ROLE, False, id="users-manager-district"),
        pytest.param(USERS_MANAGER, False, AS_MEMBER, False, id="users-manager-own-group"),
        pytest.param(USERS_MANAGER, False, NO_ROLE, False, id="users-manager-other-group"),
    ],
)
def test_individual_results_for_users(
    viewer: UserViewer,
    is_district_scope: bool,
    roles_in_group: frozenset[MembershipRole],
    expected: bool,
) -> None:
    assert (
        can_view_individual_results(
            viewer, is_district_scope=is_district_scope, roles_in_group=roles_in_group
        )
        is expected
    )


@pytest.mark.parametrize("is_district_scope", [True, False], ids=["district", "group"])
@pytest.mark.parametrize(
    ("viewer", "expected"), list(integration_columns(IntegrationScope.STATS_READ))
)
def test_individual_results_for_integrations(
    viewer: IntegrationViewer, is_district_scope: bool, expected: bool
) -> None:
    assert (
        can_view_individual_results(
            viewer, is_district_scope=is_district_scope, roles_in_group=NO_ROLE
        )
        is expected
    )


def test_users_manager_who_also_manages_a_group_sees_that_group() -> None:
    both = dataclasses.replace(USERS_MANAGER, key="users-and-group-manager")
    assert can_view_individual_results(both, is_district_scope=False, roles_in_group=AS_MANAGER)
    assert not can_view_individual_results(both, is_district_scope=True, roles_in_group=NO_ROLE)


# --- row: review Fluency submissions ----------------------------------------------------------


def review_as(
    viewer: Viewer,
    *,
    learner_id: int = LEARNER_ID,
    learner_groups: frozenset[int] = frozenset({OWN_GROUP}),
    managed: frozenset[int] = frozenset(),
) -> bool:
    return can_review(
        viewer,
        learner_id=learner_id,
        learner_group_ids=learner_groups,
        viewer_managed_group_ids=managed,
    )


@pytest.mark.parametrize(
    ("viewer", "learner_groups", "managed", "expected"),
    [
        # member: no, not even a fellow member of the same group
        pytest.param(MEMBER, {OWN_GROUP}, set(), False, id="member-fellow-member"),
        pytest.param(MEMBER, set(), set(), False, id="member-learner-without-group"),
        # group manager: members of the groups they manage
        pytest.param(GROUP_MANAGER, {OWN_GROUP}, {OWN_GROUP}, True, id="gm-own-group-member"),
        pytest.param(
            GROUP_MANAGER, {OTHER_GROUP, OWN_GROUP}, {OWN_GROUP}, True, id="gm-one-shared-group"
        ),
        pytest.param(GROUP_MANAGER, {OTHER_GROUP}, {OWN_GROUP}, False, id="gm-other-group"),
        pytest.param(GROUP_MANAGER, set(), {OWN_GROUP}, False, id="gm-learner-without-group"),
        # district PL manager: whole district, managing no group at all
        pytest.param(PL_MANAGER, {OWN_GROUP}, set(), True, id="pl-manager-grouped-learner"),
        pytest.param(PL_MANAGER, {OTHER_GROUP}, set(), True, id="pl-manager-other-group"),
        pytest.param(PL_MANAGER, set(), set(), True, id="pl-manager-learner-without-group"),
        # users manager: no
        pytest.param(USERS_MANAGER, {OWN_GROUP}, set(), False, id="users-manager"),
        pytest.param(USERS_MANAGER, set(), set(), False, id="users-manager-ungrouped"),
    ],
)
def test_review_by_users(
    viewer: UserViewer, learner_groups: set[int], managed: set[int], expected: bool
) -> None:
    assert (
        review_as(viewer, learner_groups=frozenset(learner_groups), managed=frozenset(managed))
        is expected
    )


@pytest.mark.parametrize(("viewer", "_unused"), list(integration_columns(None)))
def test_integrations_never_review(viewer: IntegrationViewer, _unused: bool) -> None:
    assert review_as(viewer) is False
    assert review_as(viewer, managed=frozenset({OWN_GROUP})) is False
    assert review_as(viewer, learner_groups=frozenset()) is False


@pytest.mark.parametrize(
    ("reviewer", "managed"),
    [
        pytest.param(PL_MANAGER, set(), id="pl-manager"),
        pytest.param(PL_MANAGER, {OWN_GROUP}, id="pl-manager-also-managing-the-group"),
        pytest.param(GROUP_MANAGER, {OWN_GROUP}, id="group-manager-of-own-group"),
        pytest.param(MEMBER, set(), id="member"),
        pytest.param(USERS_MANAGER, set(), id="users-manager"),
    ],
)
def test_nobody_reviews_their_own_submission(reviewer: UserViewer, managed: set[int]) -> None:
    assert (
        review_as(
            reviewer,
            learner_id=reviewer.user_id,
            learner_groups=frozenset({OWN_GROUP}),
            managed=frozenset(managed),
        )
        is False
    )


def test_review_is_decided_by_the_learners_identity_not_the_key() -> None:
    # Another user with the same key but another id is not the learner.
    twin = dataclasses.replace(PL_MANAGER, user_id=LEARNER_ID + 1)
    assert review_as(twin, learner_id=LEARNER_ID) is True
    assert review_as(twin, learner_id=twin.user_id) is False


@given(
    learner_groups=st.frozensets(st.integers(1, 6)),
    managed=st.frozensets(st.integers(1, 6)),
    is_pl_manager=st.booleans(),
    is_users_manager=st.booleans(),
    is_learner=st.booleans(),
)
def test_review_property(
    learner_groups: frozenset[int],
    managed: frozenset[int],
    is_pl_manager: bool,
    is_users_manager: bool,
    is_learner: bool,
) -> None:
    viewer = UserViewer(
        user_id=9,
        district_id=DISTRICT,
        key="someone",
        is_pl_manager=is_pl_manager,
        is_users_manager=is_users_manager,
    )
    learner_id = 9 if is_learner else 10
    allowed = review_as(
        viewer, learner_id=learner_id, learner_groups=learner_groups, managed=managed
    )
    expected = not is_learner and (is_pl_manager or bool(learner_groups & managed))
    assert allowed is expected


# --- row: change stats inclusion --------------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        *user_columns(
            {"member": False, "group-manager": False, "pl-manager": True, "users-manager": True}
        ),
        *integration_columns(IntegrationScope.ROSTER_WRITE),
    ],
)
def test_change_stats_inclusion(viewer: Viewer, expected: bool) -> None:
    assert can_change_stats_inclusion(viewer) is expected


# --- row: record pre-assessment results, page progress for a user -----------------------------


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        *user_columns(
            {"member": False, "group-manager": False, "pl-manager": False, "users-manager": False}
        ),
        *integration_columns(IntegrationScope.PROGRESS_WRITE),
    ],
)
def test_record_pre_assessment(viewer: Viewer, expected: bool) -> None:
    # Results come from the assessment engine, never from the learner (not even for themselves).
    assert can_record_pre_assessment(viewer) is expected


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        *user_columns(
            {"member": False, "group-manager": False, "pl-manager": False, "users-manager": False}
        ),
        *integration_columns(IntegrationScope.PROGRESS_WRITE),
    ],
)
def test_write_page_progress_for_another_user(viewer: Viewer, expected: bool) -> None:
    assert can_write_progress_for(viewer, LEARNER_ID) is expected


@pytest.mark.parametrize("viewer", list(USERS.values()), ids=list(USERS))
def test_every_user_records_their_own_page_progress(viewer: UserViewer) -> None:
    assert can_write_progress_for(viewer, viewer.user_id) is True


# --- row: read the district news feed ---------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        *user_columns(
            {"member": True, "group-manager": True, "pl-manager": True, "users-manager": True}
        ),
        *integration_columns(IntegrationScope.STATS_READ),
    ],
)
def test_read_feed(viewer: Viewer, expected: bool) -> None:
    assert can_read_feed(viewer) is expected


# --- another user's badges (not in the table; documented in permissions.py) -------------------


@pytest.mark.parametrize(
    ("viewer", "manages_a_group_of_target", "expected"),
    [
        pytest.param(MEMBER, False, False, id="member"),
        pytest.param(GROUP_MANAGER, True, True, id="group-manager-of-target"),
        pytest.param(GROUP_MANAGER, False, False, id="group-manager-other-group"),
        pytest.param(PL_MANAGER, False, True, id="pl-manager"),
        # Users managers have no individual results, so no per-user progress either.
        pytest.param(USERS_MANAGER, False, False, id="users-manager"),
    ],
)
def test_view_another_users_progress(
    viewer: UserViewer, manages_a_group_of_target: bool, expected: bool
) -> None:
    assert (
        can_view_user_progress(
            viewer,
            target_user_id=LEARNER_ID,
            manages_a_group_of_target=manages_a_group_of_target,
        )
        is expected
    )


def test_view_own_progress() -> None:
    assert can_view_user_progress(
        MEMBER, target_user_id=MEMBER.user_id, manages_a_group_of_target=False
    )


@pytest.mark.parametrize(
    ("viewer", "expected"), list(integration_columns(IntegrationScope.STATS_READ))
)
def test_view_user_progress_for_integrations(viewer: IntegrationViewer, expected: bool) -> None:
    assert (
        can_view_user_progress(viewer, target_user_id=LEARNER_ID, manages_a_group_of_target=False)
        is expected
    )


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        pytest.param(MEMBER, False, id="member"),
        pytest.param(GROUP_MANAGER, False, id="group-manager"),
        pytest.param(PL_MANAGER, True, id="pl-manager"),
        pytest.param(USERS_MANAGER, True, id="users-manager"),
    ],
)
def test_view_another_users_roster_flags(viewer: UserViewer, expected: bool) -> None:
    assert can_view_roster_flags(viewer, target_user_id=LEARNER_ID) is expected


def test_view_own_roster_flags() -> None:
    assert can_view_roster_flags(MEMBER, target_user_id=MEMBER.user_id)


@pytest.mark.parametrize(
    "viewer",
    [
        IntegrationViewer("t", 1, frozenset({IntegrationScope.STATS_READ})),
        IntegrationViewer("t", 1, frozenset({IntegrationScope.ROSTER_WRITE})),
    ],
)
def test_integrations_that_read_stats_or_write_rosters_see_roster_flags(
    viewer: IntegrationViewer,
) -> None:
    assert can_view_roster_flags(viewer, target_user_id=LEARNER_ID)
    assert not can_view_roster_flags(
        IntegrationViewer("t", 1, frozenset({IntegrationScope.PROGRESS_WRITE})),
        target_user_id=LEARNER_ID,
    )


# --- viewers ----------------------------------------------------------------------------------


def test_is_user() -> None:
    assert all(is_user(v) for v in USERS.values())
    assert not is_user(integration(*ALL_SCOPES))


def test_integration_has_exactly_its_scopes() -> None:
    token = integration(IntegrationScope.STATS_READ)
    assert token.has(IntegrationScope.STATS_READ)
    assert not token.has(IntegrationScope.PROGRESS_WRITE)
    assert not token.has(IntegrationScope.ROSTER_WRITE)


def test_scope_names_match_the_contract() -> None:
    assert {s.value for s in IntegrationScope} == {"stats:read", "progress:write", "roster:write"}


@pytest.mark.parametrize("viewer", [MEMBER, integration()], ids=["user", "integration"])
def test_viewers_are_immutable(viewer: Viewer) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        viewer.district_id = DISTRICT + 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "check",
    [
        can_use_own_dashboard,
        can_read_district_stats,
        can_read_feed,
        can_change_stats_inclusion,
        can_record_pre_assessment,
    ],
)
def test_district_roles_only_add_rights(check: Callable[[Viewer], bool]) -> None:
    # Holding both district roles never loses a right that either role has.
    both = dataclasses.replace(PL_MANAGER, is_users_manager=True)
    assert check(both) is (check(PL_MANAGER) or check(USERS_MANAGER))
