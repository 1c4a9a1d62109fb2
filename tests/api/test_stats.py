"""Comparison Stats and scope stats through the public API (DOMAIN.md "Who counts in
Comparison Stats", "Comparison Stats", "Permissions at a glance").

The scenario (`seed_progress`) and the expected numbers are spelled out in stats_support.
"""

from __future__ import annotations

from typing import Any

from resolvers.ids import decode_id, encode_id
from tests.api.stats_support import (
    COMPARISON,
    COMPARISON_DEFAULTS,
    SCOPE_STATS,
    by_key,
    complete,
    dashboard,
    login,
    percents,
    results,
    rows,
    scope_stats,
    scope_vars,
    seed_progress,
    set_inclusion,
    start,
    tally,
)
from tests.support import Api, counting_statements, world


async def _group_ids(api: Api) -> dict[str, str]:
    return {
        "s1": await api.id("School", "s1"),
        "s2": await api.id("School", "s2"),
        "c1": await api.id("Cohort", "c1"),
    }


# --- Who counts ---------------------------------------------------------------------------


async def test_never_logged_in_users_are_not_counted_but_are_listed_as_not_logged_in(
    api: Api,
) -> None:
    await seed_progress(api)
    view = await dashboard(api, "t1", "m1")
    # t3 (never logged in, IN_PROGRESS on m1) is in neither the district nor s1.
    assert view["district"]["countedUsers"] == 6
    assert tally(view["district"]["counts"]) == (3, 1, 2, 6)
    s1 = view["schools"][0]
    assert s1["countedUsers"] == 1 and tally(s1["counts"]) == (0, 0, 1, 1)
    listed = await results(api, "SCHOOL", "s1", as_user="sm")
    assert rows(listed) == [("t3", "IN_PROGRESS", False), ("t1", "COMPLETE", True)]


async def test_dcf_users_are_excluded_by_default_and_counted_once_included(api: Api) -> None:
    data = world()
    data["memberships"].append({"user": "adm", "group": "c1", "role": "MEMBER"})
    await seed_progress(api, data)
    before = await dashboard(api, "adm", "m1")
    assert before["statsExcluded"] is True
    assert before["district"]["countedUsers"] == 6
    assert tally(before["district"]["counts"]) == (3, 1, 2, 6)
    (c1,) = before["cohorts"]
    assert c1["countedUsers"] == 1 and tally(c1["counts"]) == (0, 0, 1, 1)
    assert "adm" not in [k for k, _, _ in rows(await results(api, "DISTRICT"))]

    await set_inclusion(api, "adm", "INCLUDE")
    after = await dashboard(api, "adm", "m1")
    assert after["statsExcluded"] is False
    assert after["district"]["countedUsers"] == 7
    assert tally(after["district"]["counts"]) == (3, 1, 3, 7)
    (c1,) = after["cohorts"]
    assert c1["countedUsers"] == 2 and tally(c1["counts"]) == (0, 0, 2, 2)
    assert ("adm", "COMPLETE", True) in rows(await results(api, "COHORT", "c1", as_user="cm"))

    # Back to DEFAULT: a DCF user is excluded again.
    await set_inclusion(api, "adm", "DEFAULT")
    again = await dashboard(api, "adm", "m1")
    assert again["statsExcluded"] is True
    assert tally(again["district"]["counts"]) == (3, 1, 2, 6)
    assert again["cohorts"][0]["countedUsers"] == 1


async def test_an_excluded_user_leaves_every_total_and_individual_results(api: Api) -> None:
    await seed_progress(api)
    await set_inclusion(api, "t1", "EXCLUDE", reason="Student teacher")
    ids = await _group_ids(api)

    view = await dashboard(api, "t1", "m1")
    assert view["statsExcluded"] is True
    # Their personal stats still show.
    assert tally(view["personal"]) == (0, 0, 1, 1)
    assert view["district"]["countedUsers"] == 5
    assert tally(view["district"]["counts"]) == (3, 1, 1, 5)
    # Their groups are still listed, without them in it.
    s1, c1 = by_key(view["schools"], ids)["s1"], by_key(view["cohorts"], ids)["c1"]
    for group in (s1, c1):
        assert group["countedUsers"] == 0
        assert tally(group["counts"]) == (0, 0, 0, 0)
        assert percents(group["counts"]) == (0.0, 0.0, 0.0)
    # The averages over all modules too.
    everything = await dashboard(api, "t1")
    assert tally(everything["personal"]) == (1, 1, 1, 3)
    assert tally(everything["district"]["counts"]) == (12, 1, 2, 15)
    assert tally(everything["schools"][0]["counts"]) == (0, 0, 0, 0)
    me = await api.ok("{ me { statsExcluded statsInclusion } }", as_user="t1")
    assert me["me"] == {"statsExcluded": True, "statsInclusion": "EXCLUDE"}

    # Never listed in Individual User Results, in any scope or filter.
    for kind, key, who in (
        ("DISTRICT", None, "plm"),
        ("SCHOOL", "s1", "sm"),
        ("COHORT", "c1", "cm"),
    ):
        listed = await results(api, kind, key, as_user=who)
        assert "t1" not in [k for k, _, _ in rows(listed)]
    assert rows(await results(api, "SCHOOL", "s1", as_user="sm")) == [("t3", "IN_PROGRESS", False)]
    assert (await results(api, "COHORT", "c1", as_user="cm"))["totalCount"] == 0

    # Progress they make while excluded moves no counter.
    await complete(api, "t1", "m2-l1")
    m2 = await dashboard(api, "plm", "m2")
    assert tally(m2["district"]["counts"]) == (4, 0, 1, 5)
    assert tally(
        (await scope_stats(api, "SCHOOL", "s1", module="m2", as_user="plm"))["counts"]
    ) == (0, 0, 0, 0)


async def test_record_login_starts_counting_a_user_in_the_district_and_their_groups(
    api: Api,
) -> None:
    await seed_progress(api)
    await complete(api, "t3", "m2-l1")  # t3: m1 IN_PROGRESS, m2 COMPLETE, not counted yet
    ids = await _group_ids(api)
    before = await dashboard(api, "t3")
    assert before["district"]["countedUsers"] == 6
    assert tally(before["district"]["counts"]) == (13, 2, 3, 18)
    assert tally(by_key(before["schools"], ids)["s1"]["counts"]) == (1, 1, 1, 3)

    assert await login(api, "t3") == {"key": "t3", "hasLoggedIn": True}
    after = await dashboard(api, "t3")
    assert after["district"]["countedUsers"] == 7
    # t3's statuses came with them: m1 IN_PROGRESS and m2 COMPLETE.
    assert tally(after["district"]["counts"]) == (14, 3, 4, 21)
    s1 = by_key(after["schools"], ids)["s1"]
    assert s1["countedUsers"] == 2
    assert tally(s1["counts"]) == (2, 2, 2, 6)
    m1_s1 = await scope_stats(api, "SCHOOL", "s1", module="m1", as_user="plm")
    assert tally(m1_s1["counts"]) == (0, 1, 1, 2)
    # Groups t3 is not a member of do not move.
    for kind, key in (("SCHOOL", "s2"), ("COHORT", "c1")):
        assert (await scope_stats(api, kind, key, as_user="plm"))["countedUsers"] == 1
    listed = await results(api, "SCHOOL", "s1", as_user="sm")
    assert ("t3", "IN_PROGRESS", True) in rows(listed)

    # A second sign-in counts nobody twice.
    await login(api, "t3")
    again = await dashboard(api, "t3")
    assert again["district"]["countedUsers"] == 7
    assert tally(again["district"]["counts"]) == (14, 3, 4, 21)
    assert by_key(again["schools"], ids)["s1"]["countedUsers"] == 2


async def test_record_login_of_an_excluded_user_counts_nothing(api: Api) -> None:
    await seed_progress(api)
    await set_inclusion(api, "t3", "EXCLUDE")
    await login(api, "t3")
    view = await dashboard(api, "t3", "m1")
    assert view["district"]["countedUsers"] == 6
    assert tally(view["district"]["counts"]) == (3, 1, 2, 6)
    assert view["schools"][0]["countedUsers"] == 1
    # Included again later, now that they have logged in, they count.
    await set_inclusion(api, "t3", "DEFAULT")
    view = await dashboard(api, "t3", "m1")
    assert tally(view["district"]["counts"]) == (3, 2, 2, 7)
    assert tally(view["schools"][0]["counts"]) == (0, 1, 1, 2)


async def test_a_group_population_counts_members_only(api: Api) -> None:
    await seed_progress(api)
    # sm manages s1 (and is counted in the district); their progress is not s1's.
    await complete(api, "sm", "m1-l1", "m1-l2", "m2-l1")
    sm_view = await dashboard(api, "sm", "m1")
    assert tally(sm_view["district"]["counts"]) == (2, 1, 3, 6)
    (s1,) = sm_view["schools"]
    assert s1["countedUsers"] == 1
    assert tally(s1["counts"]) == (0, 0, 1, 1)
    assert tally((await dashboard(api, "sm", "m2"))["schools"][0]["counts"]) == (1, 0, 0, 1)

    # Holding both roles, sm is a member too: counted once, with their statuses.
    data = world()
    data["memberships"].append({"user": "sm", "group": "s1", "role": "MEMBER"})
    await api.seed(data)
    (s1,) = (await dashboard(api, "sm", "m1"))["schools"]
    assert s1["countedUsers"] == 2
    assert tally(s1["counts"]) == (0, 0, 2, 2)
    await start(api, "sm", "m3-l1")
    m3 = await scope_stats(api, "SCHOOL", "s1", module="m3", as_user="sm")
    assert tally(m3["counts"]) == (0, 2, 0, 2)  # t1 and sm


# --- Comparison Stats ---------------------------------------------------------------------


async def test_one_module_at_a_level_counts_every_scope_exactly(api: Api) -> None:
    await seed_progress(api)
    ids = await _group_ids(api)
    view = await dashboard(api, "t1", "m1")
    assert view["level"] == "LITERACY" and view["module"] == {"key": "m1"}
    district = view["district"]
    assert district["moduleCount"] == 1 and district["countedUsers"] == 6
    assert district["counts"] == {
        "notStarted": 3,
        "inProgress": 1,
        "complete": 2,
        "total": 6,
        "notStartedPercent": 50.0,
        "inProgressPercent": 16.7,
        "completePercent": 33.3,
    }
    assert percents(district["counts"]) == (50.0, 16.7, 33.3)
    s1 = by_key(view["schools"], ids)["s1"]
    assert tally(s1["counts"]) == (0, 0, 1, 1)
    assert percents(s1["counts"]) == (0.0, 0.0, 100.0)
    c1 = by_key(view["cohorts"], ids)["c1"]
    assert tally(c1["counts"]) == (0, 0, 1, 1)

    t2_view = await dashboard(api, "t2", "m1")
    (s2,) = t2_view["schools"]
    assert tally(s2["counts"]) == (0, 1, 0, 1)
    assert percents(s2["counts"]) == (0.0, 100.0, 0.0)

    # Fluency of the same module: only t1 has started it.
    fluency = await dashboard(api, "t1", "m1", "FLUENCY")
    assert fluency["level"] == "FLUENCY"
    assert tally(fluency["district"]["counts"]) == (5, 1, 0, 6)
    assert percents(fluency["district"]["counts"]) == (83.3, 16.7, 0.0)
    assert tally(by_key(fluency["schools"], ids)["s1"]["counts"]) == (0, 1, 0, 1)
    # A submitted review page is IN_PROGRESS until approved.
    m3 = await dashboard(api, "t2", "m3", "FLUENCY")
    assert tally(m3["district"]["counts"]) == (5, 1, 0, 6)


async def test_no_record_means_not_started(api: Api) -> None:
    await seed_progress(api)
    # Only t2 has touched m2; nobody in s2 has touched m3's Literacy.
    m2 = await dashboard(api, "t2", "m2")
    assert tally(m2["district"]["counts"]) == (5, 0, 1, 6)
    assert percents(m2["district"]["counts"]) == (83.3, 0.0, 16.7)
    untouched = await scope_stats(api, "SCHOOL", "s2", module="m3", as_user="plm")
    assert tally(untouched["counts"]) == (1, 0, 0, 1)
    assert percents(untouched["counts"]) == (100.0, 0.0, 0.0)


async def test_all_modules_at_a_level_sum_over_the_modules_that_have_it(api: Api) -> None:
    await seed_progress(api)
    ids = await _group_ids(api)
    # The default view: every module at Literacy (m1, m2, m3), total = 6 users x 3 modules.
    default = (await api.ok(COMPARISON_DEFAULTS, as_user="t1"))["comparisonStats"]
    assert default["level"] == "LITERACY" and default["module"] is None
    district = default["district"]
    assert district["moduleCount"] == 3 and district["countedUsers"] == 6
    assert tally(district["counts"]) == (13, 2, 3, 18)
    assert percents(district["counts"]) == (72.2, 11.1, 16.7)
    s1 = by_key(default["schools"], ids)["s1"]
    assert s1["moduleCount"] == 3 and tally(s1["counts"]) == (1, 1, 1, 3)
    assert percents(s1["counts"]) == (33.3, 33.3, 33.3)
    assert tally(by_key(default["cohorts"], ids)["c1"]["counts"]) == (1, 1, 1, 3)
    # The same numbers when the defaults are spelled out.
    explicit = await dashboard(api, "t1", None, "LITERACY")
    assert explicit["district"] == default["district"]
    assert explicit["personal"] == default["personal"]

    # Fluency: m2 has no Fluency level and takes no part; m1 and m3 do (6 x 2).
    fluency = await dashboard(api, "t2", level="FLUENCY")
    assert fluency["district"]["moduleCount"] == 2
    assert tally(fluency["district"]["counts"]) == (10, 2, 0, 12)
    assert percents(fluency["district"]["counts"]) == (83.3, 16.7, 0.0)
    (s2,) = fluency["schools"]
    assert s2["moduleCount"] == 2 and tally(s2["counts"]) == (1, 1, 0, 2)
    # t2's COMPLETE on m2 (Literacy) is nowhere in the Fluency numbers.
    assert fluency["district"]["counts"]["complete"] == 0


async def test_the_all_modules_view_counts_only_modules_the_district_can_see(api: Api) -> None:
    await seed_progress(api)
    # x1 of d2 sees m1, m2 (vendor) and m9 (d2's), never m3 (d1's).
    x1 = await dashboard(api, "x1")
    assert x1["district"]["moduleCount"] == 3
    assert x1["district"]["countedUsers"] == 1
    assert tally(x1["district"]["counts"]) == (3, 0, 0, 3)
    assert (await dashboard(api, "x1", level="FLUENCY"))["district"]["moduleCount"] == 1


async def test_a_module_without_the_level_or_of_another_district_is_refused(api: Api) -> None:
    await seed_progress(api)
    m2 = await api.id("Module", "m2")
    err = await api.error(COMPARISON, {"m": m2, "l": "FLUENCY"}, as_user="t1")
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert "m2" in err["message"] and "Fluency" in err["message"]
    variables = await scope_vars(api, "DISTRICT", None, "m2", "FLUENCY")
    err = await api.error(SCOPE_STATS, variables, as_user="plm")
    assert err["extensions"]["code"] == "BAD_USER_INPUT"

    foreign = await api.error(
        COMPARISON, {"m": await api.id("Module", "m9"), "l": "LITERACY"}, as_user="t1"
    )
    assert foreign["extensions"]["code"] == "NOT_FOUND"
    missing = await api.error(
        COMPARISON, {"m": encode_id("Module", 999_999), "l": "LITERACY"}, as_user="t1"
    )
    assert missing["extensions"]["code"] == "NOT_FOUND"
    assert missing["message"] == foreign["message"]
    variables = await scope_vars(api, "SCHOOL", "s1", "m9", "LITERACY")
    err = await api.error(SCOPE_STATS, variables, as_user="plm")
    assert err["extensions"]["code"] == "NOT_FOUND"
    # Not a module's ID at all.
    wrong = await api.error(
        COMPARISON, {"m": await api.id("Page", "m1-l1"), "l": "LITERACY"}, as_user="t1"
    )
    assert wrong["extensions"]["code"] == "BAD_USER_INPUT"


async def test_personal_stats_are_the_viewers_own_statuses(api: Api) -> None:
    await seed_progress(api)
    one = (await dashboard(api, "t1", "m1"))["personal"]
    assert tally(one) == (0, 0, 1, 1) and percents(one) == (0.0, 0.0, 100.0)
    assert tally((await dashboard(api, "t1", "m3"))["personal"]) == (0, 1, 0, 1)
    assert tally((await dashboard(api, "t1", "m2"))["personal"]) == (1, 0, 0, 1)
    everything = (await dashboard(api, "t1"))["personal"]
    assert tally(everything) == (1, 1, 1, 3)
    assert percents(everything) == (33.3, 33.3, 33.3)
    assert tally((await dashboard(api, "t1", level="FLUENCY"))["personal"]) == (1, 1, 0, 2)
    assert tally((await dashboard(api, "plm"))["personal"]) == (3, 0, 0, 3)
    # cm passed the pre-assessment of m1; sm failed theirs, which alone changes nothing.
    assert tally((await dashboard(api, "cm", "m1"))["personal"]) == (0, 0, 1, 1)
    assert tally((await dashboard(api, "sm", "m1"))["personal"]) == (1, 0, 0, 1)
    # Users who are not counted still see their own statuses.
    assert tally((await dashboard(api, "t3", "m1"))["personal"]) == (0, 1, 0, 1)
    assert tally((await dashboard(api, "adm", "m1"))["personal"]) == (0, 0, 1, 1)


async def test_comparison_stats_lists_exactly_the_viewers_groups(api: Api) -> None:
    data = world()
    # t2 is also a member of s1, and sm holds both roles in s1.
    data["memberships"] += [
        {"user": "t2", "group": "s1", "role": "MEMBER"},
        {"user": "sm", "group": "s1", "role": "MEMBER"},
    ]
    await api.seed(data)
    ids = await _group_ids(api)

    def listed(view: dict[str, Any]) -> tuple[list[tuple[str, str, str]], ...]:
        return tuple(
            [(v["scope"]["kind"], v["scope"]["id"], v["scope"]["name"]) for v in view[part]]
            for part in ("schools", "cohorts")
        )

    s1 = ("SCHOOL", ids["s1"], "Lincoln Elementary")
    s2 = ("SCHOOL", ids["s2"], "Roosevelt Middle")
    c1 = ("COHORT", ids["c1"], "New Teachers 2026")
    assert listed(await dashboard(api, "t1")) == ([s1], [c1])
    assert listed(await dashboard(api, "t2")) == ([s1, s2], [])  # ordered by name
    assert listed(await dashboard(api, "sm")) == ([s1], [])  # both roles: listed once
    assert listed(await dashboard(api, "cm")) == ([], [c1])
    assert listed(await dashboard(api, "plm")) == ([], [])
    assert listed(await dashboard(api, "um")) == ([], [])
    x1 = await dashboard(api, "x1")
    assert [v["scope"]["name"] for v in x1["schools"]] == ["Shelbyville High"]
    district = (await dashboard(api, "t1"))["district"]["scope"]
    assert district == {
        "kind": "DISTRICT",
        "id": await api.id("District", "d1"),
        "name": "Springfield",
        "canViewIndividualResults": False,
    }


async def test_can_view_individual_results_follows_the_viewers_role(api: Api) -> None:
    await api.seed(world())
    ids = await _group_ids(api)

    def flags(view: dict[str, Any]) -> dict[str, bool]:
        out = {"district": view["district"]["scope"]["canViewIndividualResults"]}
        for v in view["schools"] + view["cohorts"]:
            key = next(k for k, gid in ids.items() if gid == v["scope"]["id"])
            out[key] = v["scope"]["canViewIndividualResults"]
        return out

    assert flags(await dashboard(api, "plm")) == {"district": True}
    assert flags(await dashboard(api, "t1")) == {"district": False, "s1": False, "c1": False}
    assert flags(await dashboard(api, "sm")) == {"district": False, "s1": True}
    assert flags(await dashboard(api, "cm")) == {"district": False, "c1": True}
    assert flags(await dashboard(api, "um")) == {"district": False}
    # Through scopeStats: a PL manager can for every group, a member cannot.
    for kind, key in (("SCHOOL", "s1"), ("SCHOOL", "s2"), ("COHORT", "c1")):
        view = await scope_stats(api, kind, key, as_user="plm")
        assert view["scope"]["canViewIndividualResults"] is True
    assert (await scope_stats(api, "SCHOOL", "s1", as_user="t1"))["scope"][
        "canViewIndividualResults"
    ] is False


async def test_comparison_stats_needs_a_user(api: Api) -> None:
    await api.seed(world())
    err = await api.error(COMPARISON, {"l": "LITERACY"}, token=api.integration("d1", "stats:read"))
    assert err["extensions"]["code"] == "FORBIDDEN"
    err = await api.error(COMPARISON, {"l": "LITERACY"})
    assert err["extensions"]["code"] == "UNAUTHENTICATED"


# --- scopeStats permissions ---------------------------------------------------------------


async def test_scope_stats_match_the_dashboard_and_a_pl_manager_reads_any_group(
    api: Api,
) -> None:
    await seed_progress(api)
    ids = await _group_ids(api)
    t1 = await dashboard(api, "t1", "m1")
    t2 = await dashboard(api, "t2", "m1")
    expected = {
        "s1": by_key(t1["schools"], ids)["s1"],
        "c1": by_key(t1["cohorts"], ids)["c1"],
        "s2": t2["schools"][0],
    }
    for kind, key in (("SCHOOL", "s1"), ("SCHOOL", "s2"), ("COHORT", "c1")):
        view = await scope_stats(api, kind, key, module="m1", as_user="plm")
        assert {k: v for k, v in view.items() if k != "scope"} == {
            k: v for k, v in expected[key].items() if k != "scope"
        }
        assert view["scope"]["id"] == ids[key] and view["scope"]["kind"] == kind
    district = await scope_stats(api, "DISTRICT", module="m1", as_user="plm")
    assert district["counts"] == t1["district"]["counts"]
    assert district["scope"]["name"] == "Springfield"


async def test_scope_stats_members_and_managers_read_their_own_groups_only(api: Api) -> None:
    data = world()
    data["memberships"].append({"user": "um", "group": "s2", "role": "MEMBER"})
    await seed_progress(api, data)
    allowed = [
        ("t1", "DISTRICT", None),
        ("t1", "SCHOOL", "s1"),
        ("t1", "COHORT", "c1"),
        ("t2", "SCHOOL", "s2"),
        ("sm", "SCHOOL", "s1"),
        ("cm", "COHORT", "c1"),
        ("um", "DISTRICT", None),
        ("um", "SCHOOL", "s2"),
        ("t3", "SCHOOL", "s1"),
    ]
    for who, kind, key in allowed:
        view = await scope_stats(api, kind, key, as_user=who)
        assert view["scope"]["kind"] == kind, (who, kind, key)
    forbidden = [
        ("t1", "SCHOOL", "s2"),
        ("t2", "SCHOOL", "s1"),
        ("t2", "COHORT", "c1"),
        ("sm", "COHORT", "c1"),
        ("sm", "SCHOOL", "s2"),
        ("cm", "SCHOOL", "s1"),
        ("um", "SCHOOL", "s1"),
        ("um", "COHORT", "c1"),
        ("adm", "SCHOOL", "s1"),
    ]
    for who, kind, key in forbidden:
        err = await api.error(
            SCOPE_STATS, await scope_vars(api, kind, key, None, "LITERACY"), as_user=who
        )
        assert err["extensions"]["code"] == "FORBIDDEN", (who, kind, key, err)


async def test_scope_stats_for_integrations_need_stats_read(api: Api) -> None:
    await seed_progress(api)
    reader = api.integration("d1", "stats:read")
    for kind, key in (("DISTRICT", None), ("SCHOOL", "s1"), ("SCHOOL", "s2"), ("COHORT", "c1")):
        view = await scope_stats(api, kind, key, module="m1", token=reader)
        assert view["scope"]["canViewIndividualResults"] is True
    district = await scope_stats(api, "DISTRICT", module="m1", token=reader)
    assert tally(district["counts"]) == (3, 1, 2, 6)
    writer = api.integration("d1", "progress:write", "roster:write")
    for kind, key in (("DISTRICT", None), ("SCHOOL", "s1")):
        err = await api.error(
            SCOPE_STATS, await scope_vars(api, kind, key, None, "LITERACY"), token=writer
        )
        assert err["extensions"]["code"] == "FORBIDDEN"
        assert "stats:read" in err["message"]
    # An integration of d2 reads d2's numbers, never d1's groups.
    other = api.integration("d2", "stats:read")
    assert (await scope_stats(api, "DISTRICT", token=other))["countedUsers"] == 1
    err = await api.error(
        SCOPE_STATS, await scope_vars(api, "SCHOOL", "s1", None, "LITERACY"), token=other
    )
    assert err["extensions"]["code"] == "NOT_FOUND"


async def test_scope_stats_ids_of_another_district_or_the_wrong_kind(api: Api) -> None:
    await api.seed(world())
    foreign = await api.error(
        SCOPE_STATS, await scope_vars(api, "SCHOOL", "s9", None, "LITERACY"), as_user="plm"
    )
    assert foreign["extensions"]["code"] == "NOT_FOUND"
    missing = await api.error(
        SCOPE_STATS,
        {"s": {"kind": "SCHOOL", "id": encode_id("School", 999_999)}, "l": "LITERACY"},
        as_user="plm",
    )
    assert missing["extensions"]["code"] == "NOT_FOUND"
    assert missing["message"] == foreign["message"]
    # d2's PL manager cannot see d1's school either.
    err = await api.error(
        SCOPE_STATS, await scope_vars(api, "SCHOOL", "s1", None, "LITERACY"), as_user="x1"
    )
    assert err["extensions"]["code"] == "NOT_FOUND" and err["message"] == foreign["message"]

    cohort_as_school = await api.error(
        SCOPE_STATS,
        {"s": {"kind": "SCHOOL", "id": await api.id("Cohort", "c1")}, "l": "LITERACY"},
        as_user="plm",
    )
    assert cohort_as_school["extensions"]["code"] == "BAD_USER_INPUT"
    assert "scope.id" in cohort_as_school["message"]
    no_id = await api.error(SCOPE_STATS, {"s": {"kind": "SCHOOL"}, "l": "LITERACY"}, as_user="plm")
    assert no_id["extensions"]["code"] == "BAD_USER_INPUT"
    assert "scope.id" in no_id["message"]
    garbage = await api.error(
        SCOPE_STATS, {"s": {"kind": "COHORT", "id": "not-an-id"}, "l": "LITERACY"}, as_user="plm"
    )
    assert garbage["extensions"]["code"] == "BAD_USER_INPUT"
    # A school's key dressed as a Cohort ID is no cohort.
    _, s1_pk = decode_id(await api.id("School", "s1"))
    dressed = await api.error(
        SCOPE_STATS,
        {"s": {"kind": "COHORT", "id": encode_id("Cohort", s1_pk)}, "l": "LITERACY"},
        as_user="plm",
    )
    assert dressed["extensions"]["code"] == "NOT_FOUND"


async def test_scope_stats_of_the_district_with_another_districts_id_is_not_found(
    api: Api,
) -> None:
    await api.seed(world())
    err = await api.error(
        SCOPE_STATS,
        {"s": {"kind": "DISTRICT", "id": await api.id("District", "d2")}, "l": "LITERACY"},
        as_user="plm",
    )
    assert err["extensions"]["code"] == "NOT_FOUND"
    own = await api.ok(
        SCOPE_STATS,
        {"s": {"kind": "DISTRICT", "id": await api.id("District", "d1")}, "l": "LITERACY"},
        as_user="plm",
    )
    assert own["scopeStats"]["scope"]["name"] == "Springfield"


# --- The dashboard's cost -----------------------------------------------------------------


DASHBOARD = """query($m: ID) { comparisonStats(moduleId: $m) { statsExcluded
  personal { notStarted inProgress complete total completePercent }
  district { scope { id name canViewIndividualResults } countedUsers counts { total complete } }
  schools { scope { id name canViewIndividualResults } countedUsers counts { total complete } }
  cohorts { scope { id name canViewIndividualResults } countedUsers counts { total complete } }
} }"""


def _thirty_groups() -> dict[str, Any]:
    """world() plus 14 schools and 15 cohorts: t2 is in s2 and all of them (30 groups),
    as a MEMBER of most and a MANAGER of some, with t1 a member of each new group."""
    data = world()
    for i in range(29):
        kind = "schools" if i < 14 else "cohorts"
        key = f"g{i:02d}"
        data[kind].append({"key": key, "district": "d1", "name": f"Group {i:02d}"})
        role = "MANAGER" if i % 5 == 0 else "MEMBER"
        data["memberships"] += [
            {"user": "t2", "group": key, "role": role},
            {"user": "t1", "group": key, "role": "MEMBER"},
        ]
    return data


async def _dashboard_statements(api: Api, module: str | None) -> tuple[dict[str, Any], int]:
    variables = {"m": await api.id("Module", module) if module else None}
    token = api.token("t2")
    with counting_statements(api) as statements:
        data = await api.ok(DASHBOARD, variables, token=token)
    # The first statement of every request is the authentication: the viewer's user row.
    assert "users" in statements[0].lower(), statements[0]
    return data["comparisonStats"], len(statements)


async def test_dashboard_statement_count_does_not_grow_with_the_viewers_groups(
    api: Api,
) -> None:
    await seed_progress(api)
    one_group, small = await _dashboard_statements(api, None)
    assert (len(one_group["schools"]), len(one_group["cohorts"])) == (1, 0)
    _, small_module = await _dashboard_statements(api, "m1")

    await api.seed(_thirty_groups())
    await complete(api, "t1", "m3-l1", "m2-l1")  # counters in every one of t1's groups
    many, large = await _dashboard_statements(api, None)
    assert (len(many["schools"]), len(many["cohorts"])) == (15, 15)
    assert all(v["countedUsers"] >= 1 for v in many["schools"] + many["cohorts"])
    assert sum(v["counts"]["complete"] for v in many["schools"] + many["cohorts"]) >= 29
    _, large_module = await _dashboard_statements(api, "m1")

    assert small == large, f"{small} statements with 1 group, {large} with 30"
    assert small_module == large_module
    # At most 3 statements for the stats, plus the one authentication statement.
    assert large <= 4 and large_module <= 4
