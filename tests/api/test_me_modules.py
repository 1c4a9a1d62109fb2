"""The viewer (`me`), the module catalog, who may see whose badges, preferences and logins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.support import Api, world

ME = """
{
  me {
    id key name hasLoggedIn firstLoginAt statsExcluded statsInclusion roles
    memberships { role group { __typename id key name } }
    preferences { shareCertificationsInFeed showMicroCertifications showPersonalStats }
  }
}
"""


async def me(api: Api, user: str) -> dict[str, Any]:
    return (await api.ok(ME, as_user=user))["me"]


async def test_me_of_a_teacher(api: Api) -> None:
    await api.seed(world())
    t1 = await me(api, "t1")
    assert t1["id"] == await api.id("User", "t1")
    assert (t1["key"], t1["name"]) == ("t1", "Tia Brown")
    assert t1["hasLoggedIn"] is True
    assert datetime.fromisoformat(t1["firstLoginAt"].replace("Z", "+00:00")).year == 2026
    assert t1["statsExcluded"] is False
    assert t1["statsInclusion"] == "DEFAULT"
    assert t1["roles"] == []
    groups = {(m["group"]["__typename"], m["group"]["key"], m["role"]) for m in t1["memberships"]}
    assert groups == {("School", "s1", "MEMBER"), ("Cohort", "c1", "MEMBER")}
    school = next(m["group"] for m in t1["memberships"] if m["group"]["key"] == "s1")
    assert school["id"] == await api.id("School", "s1")
    assert school["name"] == "Lincoln Elementary"
    assert t1["preferences"] == {
        "shareCertificationsInFeed": True,
        "showMicroCertifications": True,
        "showPersonalStats": True,
    }


async def test_me_of_a_user_who_never_logged_in(api: Api) -> None:
    await api.seed(world())
    t3 = await me(api, "t3")
    assert t3["hasLoggedIn"] is False
    assert t3["firstLoginAt"] is None
    # Asking is not logging in.
    assert (await me(api, "t3"))["hasLoggedIn"] is False


async def test_dcf_admin_is_excluded_by_default(api: Api) -> None:
    await api.seed(world())
    adm = await me(api, "adm")
    assert adm["statsInclusion"] == "DEFAULT"
    assert adm["statsExcluded"] is True


async def test_stats_inclusion_overrides_the_dcf_default(api: Api) -> None:
    data = world()
    for user in data["users"]:
        if user["key"] == "adm":
            user["statsInclusion"] = "INCLUDE"
        if user["key"] == "t1":
            user["statsInclusion"] = "EXCLUDE"
    await api.seed(data)
    adm, t1 = await me(api, "adm"), await me(api, "t1")
    assert (adm["statsInclusion"], adm["statsExcluded"]) == ("INCLUDE", False)
    assert (t1["statsInclusion"], t1["statsExcluded"]) == ("EXCLUDE", True)


async def test_roles_and_manager_memberships(api: Api) -> None:
    await api.seed(world())
    assert (await me(api, "plm"))["roles"] == ["PL_MANAGER"]
    assert (await me(api, "um"))["roles"] == ["USERS_MANAGER"]
    sm = await me(api, "sm")
    assert sm["roles"] == []
    assert [
        (m["group"]["__typename"], m["group"]["key"], m["role"]) for m in sm["memberships"]
    ] == [("School", "s1", "MANAGER")]
    cm = await me(api, "cm")
    assert [(m["group"]["__typename"], m["role"]) for m in cm["memberships"]] == [
        ("Cohort", "MANAGER")
    ]


MODULES = """
query($catalog: Catalog, $goalsOnly: Boolean) {
  modules(catalog: $catalog, goalsOnly: $goalsOnly) {
    id key title catalog hasFluency isDistrictGoal
    pages { id key level requiresReview }
  }
}
"""


async def modules(api: Api, user: str = "t1", **variables: Any) -> dict[str, dict[str, Any]]:
    rows = (await api.ok(MODULES, variables, as_user=user))["modules"]
    by_key = {m["key"]: m for m in rows}
    assert len(by_key) == len(rows), "a module is listed twice"
    return by_key


async def test_modules_are_the_vendor_catalog_and_the_districts_own(api: Api) -> None:
    await api.seed(world())
    d1 = await modules(api, "t1")
    assert set(d1) == {"m1", "m2", "m3"}
    assert {k: m["catalog"] for k, m in d1.items()} == {
        "m1": "MODERN_TEACHER",
        "m2": "MODERN_TEACHER",
        "m3": "DISTRICT",
    }
    assert d1["m1"]["id"] == await api.id("Module", "m1")
    d2 = await modules(api, "x1")
    assert set(d2) == {"m1", "m2", "m9"}


async def test_modules_filtered_by_catalog(api: Api) -> None:
    await api.seed(world())
    assert set(await modules(api, catalog="MODERN_TEACHER")) == {"m1", "m2"}
    assert set(await modules(api, catalog="DISTRICT")) == {"m3"}
    assert set(await modules(api, "x1", catalog="DISTRICT")) == {"m9"}


async def test_goals_only(api: Api) -> None:
    await api.seed(world())
    goals = await modules(api, goalsOnly=True)
    assert set(goals) == {"m2"}
    assert goals["m2"]["isDistrictGoal"] is True
    assert set(await modules(api, goalsOnly=False)) == {"m1", "m2", "m3"}
    assert await modules(api, catalog="DISTRICT", goalsOnly=True) == {}
    # Goals are per district: d1's goal is not d2's.
    assert await modules(api, "x1", goalsOnly=True) == {}
    assert (await modules(api, "x1"))["m2"]["isDistrictGoal"] is False


async def test_has_fluency_and_is_district_goal(api: Api) -> None:
    await api.seed(world())
    d1 = await modules(api)
    assert {k: m["hasFluency"] for k, m in d1.items()} == {"m1": True, "m2": False, "m3": True}
    assert {k: m["isDistrictGoal"] for k, m in d1.items()} == {
        "m1": False,
        "m2": True,
        "m3": False,
    }


async def test_pages_are_in_order_with_level_and_review(api: Api) -> None:
    await api.seed(world())
    d1 = await modules(api)
    assert [(p["key"], p["level"], p["requiresReview"]) for p in d1["m1"]["pages"]] == [
        ("m1-l1", "LITERACY", False),
        ("m1-l2", "LITERACY", False),
        ("m1-f1", "FLUENCY", False),
        ("m1-f2", "FLUENCY", True),
    ]
    assert [(p["key"], p["level"], p["requiresReview"]) for p in d1["m3"]["pages"]] == [
        ("m3-l1", "LITERACY", False),
        ("m3-f1", "FLUENCY", True),
    ]
    assert d1["m1"]["pages"][0]["id"] == await api.id("Page", "m1-l1")


async def test_page_order_follows_the_import_not_the_keys(api: Api) -> None:
    data = world()
    m2 = next(m for m in data["modules"] if m["key"] == "m2")
    m2["pages"] = [
        {"key": "m2-z", "level": "LITERACY", "title": "First"},
        {"key": "m2-a", "level": "LITERACY", "title": "Second"},
    ]
    await api.seed(data)
    assert [p["key"] for p in (await modules(api))["m2"]["pages"]] == ["m2-z", "m2-a"]


async def test_modules_need_a_viewer(api: Api) -> None:
    await api.seed(world())
    error = await api.error("{ modules { key } }")
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


# ------------------------------------------------------------ another user's data

USER = """
query($id: ID!) {
  node(id: $id) {
    ... on User {
      key name hasLoggedIn
      badges { module { key } literacy fluency }
    }
  }
}
"""


async def test_a_teacher_cannot_see_another_teachers_badges(api: Api) -> None:
    await api.seed(world())
    error = await api.error(USER, {"id": await api.id("User", "t2")}, as_user="t1")
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["path"][-1] == "badges"


async def test_a_teacher_can_see_another_teachers_name(api: Api) -> None:
    await api.seed(world())
    data = await api.ok(
        "query($id: ID!) { node(id: $id) { ... on User { key name } } }",
        {"id": await api.id("User", "t2")},
        as_user="t1",
    )
    assert data["node"] == {"key": "t2", "name": "Tom Gray"}


@pytest.mark.parametrize(
    ("viewer", "target"),
    [
        ("sm", "t1"),  # manages s1, where t1 is a member
        ("sm", "t3"),  # t3 is a member of s1 too
        ("cm", "t1"),  # manages c1, where t1 is a member
        ("plm", "t1"),
        ("plm", "t2"),
        ("t1", "t1"),
    ],
)
async def test_who_may_see_a_users_badges(api: Api, viewer: str, target: str) -> None:
    await api.seed(world())
    data = await api.ok(USER, {"id": await api.id("User", target)}, as_user=viewer)
    assert data["node"]["key"] == target
    assert {b["module"]["key"] for b in data["node"]["badges"]} == {"m1", "m2", "m3"}


@pytest.mark.parametrize(
    ("viewer", "target"),
    [
        ("sm", "t2"),  # t2 is in s2, which sm does not manage
        ("cm", "t3"),  # t3 is not in c1
        ("t2", "t1"),
        ("t1", "sm"),  # a member does not see their manager's progress
        ("adm", "t1"),
        # A users manager manages stats inclusion, not learning: like the individual
        # results, a user's progress is not theirs to read (DOMAIN.md permissions).
        ("um", "t2"),
    ],
)
async def test_who_may_not_see_a_users_badges(api: Api, viewer: str, target: str) -> None:
    await api.seed(world())
    error = await api.error(USER, {"id": await api.id("User", target)}, as_user=viewer)
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_another_users_stats_flags_are_for_inclusion_managers(api: Api) -> None:
    await api.seed(world())
    query = "query($id: ID!) { node(id: $id) { ... on User { statsExcluded } } }"
    t2 = await api.id("User", "t2")
    assert (await api.error(query, {"id": t2}, as_user="t1"))["extensions"]["code"] == "FORBIDDEN"
    for manager in ("plm", "um"):  # both may change inclusion, so both may read it
        data = await api.ok(query, {"id": t2}, as_user=manager)
        assert data["node"] == {"statsExcluded": False}


@pytest.mark.parametrize("viewer", ["t2", "sm", "plm", "um"])
async def test_preferences_are_visible_to_their_owner_only(api: Api, viewer: str) -> None:
    await api.seed(world())
    error = await api.error(
        "query($id: ID!) { node(id: $id) { ... on User { preferences { showPersonalStats } } } }",
        {"id": await api.id("User", "t1")},
        as_user=viewer,
    )
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_an_integration_with_stats_read_sees_badges_but_not_preferences(api: Api) -> None:
    await api.seed(world())
    token = api.integration("d1", "stats:read")
    t1 = await api.id("User", "t1")
    data = await api.ok(USER, {"id": t1}, token=token)
    assert data["node"]["key"] == "t1"
    error = await api.error(
        "query($id: ID!) { node(id: $id) { ... on User { preferences { showPersonalStats } } } }",
        {"id": t1},
        token=token,
    )
    assert error["extensions"]["code"] == "FORBIDDEN"
    no_scope = api.integration("d1", "progress:write")
    error = await api.error(USER, {"id": t1}, token=no_scope)
    assert error["extensions"]["code"] == "FORBIDDEN"


# ------------------------------------------------------------------ preferences

UPDATE = """
mutation($input: PreferencesInput!) {
  updatePreferences(input: $input) {
    key
    preferences { shareCertificationsInFeed showMicroCertifications showPersonalStats }
  }
}
"""


async def test_update_preferences_changes_only_what_it_is_given(api: Api) -> None:
    await api.seed(world())
    data = await api.ok(UPDATE, {"input": {"showPersonalStats": False}}, as_user="t1")
    assert data["updatePreferences"]["key"] == "t1"
    expected = {
        "shareCertificationsInFeed": True,
        "showMicroCertifications": True,
        "showPersonalStats": False,
    }
    assert data["updatePreferences"]["preferences"] == expected
    assert (await me(api, "t1"))["preferences"] == expected

    data = await api.ok(
        UPDATE,
        {"input": {"shareCertificationsInFeed": False, "showMicroCertifications": False}},
        as_user="t1",
    )
    expected = dict.fromkeys(expected, False)
    assert data["updatePreferences"]["preferences"] == expected
    # An empty input changes nothing.
    data = await api.ok(UPDATE, {"input": {}}, as_user="t1")
    assert data["updatePreferences"]["preferences"] == expected
    # Others are untouched.
    assert all((await me(api, "t2"))["preferences"].values())


async def test_update_preferences_by_an_integration_is_forbidden(api: Api) -> None:
    await api.seed(world())
    for scopes in (("stats:read",), ("progress:write", "roster:write")):
        error = await api.error(
            UPDATE, {"input": {"showPersonalStats": False}}, token=api.integration("d1", *scopes)
        )
        assert error["extensions"]["code"] == "FORBIDDEN"


async def test_update_preferences_needs_a_viewer(api: Api) -> None:
    await api.seed(world())
    error = await api.error(UPDATE, {"input": {"showPersonalStats": False}})
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


# ------------------------------------------------------------------ recordLogin

LOGIN = "mutation { recordLogin { key hasLoggedIn firstLoginAt } }"


async def test_record_login_sets_has_logged_in_once(api: Api) -> None:
    await api.seed(world())
    first = (await api.ok(LOGIN, as_user="t3"))["recordLogin"]
    assert first["key"] == "t3"
    assert first["hasLoggedIn"] is True
    assert first["firstLoginAt"] is not None
    assert (await me(api, "t3"))["hasLoggedIn"] is True

    second = (await api.ok(LOGIN, as_user="t3"))["recordLogin"]
    assert second == first  # the first login stays the first
    assert (await me(api, "t3"))["firstLoginAt"] == first["firstLoginAt"]


async def test_record_login_keeps_an_imported_first_login(api: Api) -> None:
    await api.seed(world())
    before = (await me(api, "t1"))["firstLoginAt"]
    after = (await api.ok(LOGIN, as_user="t1"))["recordLogin"]
    assert after["firstLoginAt"] == before


async def test_record_login_by_an_integration_is_forbidden(api: Api) -> None:
    await api.seed(world())
    error = await api.error(LOGIN, token=api.integration("d1", "roster:write", "progress:write"))
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert (await me(api, "t3"))["hasLoggedIn"] is False
