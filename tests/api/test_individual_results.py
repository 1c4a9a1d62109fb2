"""Individual User Results through the public API (DOMAIN.md "Individual User Results").

The scenario (`seed_progress`) is spelled out in stats_support. At m1 / LITERACY, d1's
included users by name: Ada Park (plm) NOT_STARTED, Cora Ng (cm) COMPLETE, Sam Mendez (sm)
NOT_STARTED, Tess Hill (t3, never logged in) IN_PROGRESS, Tia Brown (t1) COMPLETE,
Tom Gray (t2) IN_PROGRESS, Uma Mills (um) NOT_STARTED. Al Dean (adm, DCF) is excluded.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from models.tables import User
from resolvers.pagination import encode_cursor
from tests.api.stats_support import (
    RESULTS,
    complete,
    keys,
    login,
    results,
    results_vars,
    rows,
    scope_stats,
    seed_progress,
    set_inclusion,
    tally,
)
from tests.support import Api, world

M1_LITERACY = [
    ("plm", "NOT_STARTED", True),
    ("cm", "COMPLETE", True),
    ("sm", "NOT_STARTED", True),
    ("t3", "IN_PROGRESS", False),
    ("t1", "COMPLETE", True),
    ("t2", "IN_PROGRESS", True),
    ("um", "NOT_STARTED", True),
]


async def _pks(api: Api, *user_keys: str) -> dict[str, int]:
    async with api.db.read() as session:
        found = await session.execute(select(User.key, User.id).where(User.key.in_(user_keys)))
        return {key: pk for key, pk in found.all()}


async def test_the_district_scope_lists_every_included_user_by_name(api: Api) -> None:
    await seed_progress(api)
    listed = await results(api, "DISTRICT", as_user="plm")
    assert rows(listed) == M1_LITERACY
    assert listed["totalCount"] == 7
    assert listed["pageInfo"]["hasNextPage"] is False
    first = listed["edges"][0]["node"]["user"]
    assert first == {"id": await api.id("User", "plm"), "key": "plm", "name": "Ada Park"}
    # Other levels and modules list the same people with their statuses there.
    fluency = await results(api, "DISTRICT", None, "m1", "FLUENCY")
    assert keys(fluency) == [k for k, _, _ in M1_LITERACY]
    assert {k: s for k, s, _ in rows(fluency) if s != "NOT_STARTED"} == {"t1": "IN_PROGRESS"}
    m3 = await results(api, "DISTRICT", None, "m3", "FLUENCY")
    assert {k: s for k, s, _ in rows(m3) if s != "NOT_STARTED"} == {"t2": "IN_PROGRESS"}


async def test_users_of_the_same_name_are_ordered_by_id(api: Api) -> None:
    data = world()
    # Imported in this order, so "lr-b" gets the smaller id though its key sorts last.
    data["users"] += [
        {"key": k, "district": "d1", "name": "Lee Ray", "firstLoginAt": "2026-09-01T12:00:00Z"}
        for k in ("lr-b", "lr-c", "lr-a")
    ]
    await api.seed(data)
    pks = await _pks(api, "lr-a", "lr-b", "lr-c")
    by_id = sorted(pks, key=pks.__getitem__)
    listed = keys(await results(api, "DISTRICT"))
    assert [k for k in listed if k.startswith("lr-")] == by_id
    assert listed == ["plm", "cm", *by_id, "sm", "t3", "t1", "t2", "um"]
    # Pages of one row each keep the order across equal names.
    walked, after = [], None
    while True:
        page = await results(api, "DISTRICT", first=1, after=after)
        walked += keys(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert walked == listed


async def test_a_group_scope_lists_its_included_members_only(api: Api) -> None:
    data = world()
    data["memberships"].append({"user": "adm", "group": "s1", "role": "MEMBER"})
    await seed_progress(api, data)
    # sm manages s1 and is not listed; adm (DCF) is excluded; t3 is listed, greyed.
    s1 = await results(api, "SCHOOL", "s1", as_user="sm")
    assert rows(s1) == [("t3", "IN_PROGRESS", False), ("t1", "COMPLETE", True)]
    assert s1["totalCount"] == 2
    assert rows(await results(api, "SCHOOL", "s2")) == [("t2", "IN_PROGRESS", True)]
    assert rows(await results(api, "COHORT", "c1", as_user="cm")) == [("t1", "COMPLETE", True)]

    await set_inclusion(api, "adm", "INCLUDE")
    s1 = await results(api, "SCHOOL", "s1", as_user="sm")
    assert rows(s1) == [
        ("adm", "COMPLETE", True),
        ("t3", "IN_PROGRESS", False),
        ("t1", "COMPLETE", True),
    ]
    assert "adm" in keys(await results(api, "DISTRICT"))
    await set_inclusion(api, "t1", "EXCLUDE")
    assert keys(await results(api, "SCHOOL", "s1", as_user="sm")) == ["adm", "t3"]
    assert (await results(api, "COHORT", "c1", as_user="cm"))["edges"] == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["NOT_STARTED"], ["plm", "sm", "um"]),
        (["IN_PROGRESS"], ["t2"]),
        (["COMPLETE"], ["cm", "t1"]),
        (["NOT_LOGGED_IN"], ["t3"]),
        (["COMPLETE", "NOT_LOGGED_IN"], ["cm", "t3", "t1"]),
        (["IN_PROGRESS", "COMPLETE"], ["cm", "t1", "t2"]),
        (["NOT_STARTED", "IN_PROGRESS", "COMPLETE"], ["plm", "cm", "sm", "t1", "t2", "um"]),
        (
            ["NOT_STARTED", "IN_PROGRESS", "COMPLETE", "NOT_LOGGED_IN"],
            ["plm", "cm", "sm", "t3", "t1", "t2", "um"],
        ),
        (None, ["plm", "cm", "sm", "t3", "t1", "t2", "um"]),
    ],
)
async def test_filters_and_their_combinations(
    api: Api, filters: list[str] | None, expected: list[str]
) -> None:
    await seed_progress(api)
    listed = await results(api, "DISTRICT", filters=filters)
    assert keys(listed) == expected
    assert listed["totalCount"] == len(expected)
    statuses = dict((k, s) for k, s, _ in M1_LITERACY)
    assert [(k, s) for k, s, _ in rows(listed)] == [(k, statuses[k]) for k in expected]


async def test_a_never_logged_in_user_matches_not_logged_in_only(api: Api) -> None:
    await seed_progress(api)
    await complete(api, "t3", "m2-l1")  # t3 COMPLETE on m2, still never logged in
    complete_m2 = await results(api, "DISTRICT", None, "m2", filters=["COMPLETE"])
    assert rows(complete_m2) == [("t2", "COMPLETE", True)]
    assert complete_m2["totalCount"] == 1
    # In a group too: t3 is IN_PROGRESS on m1 in s1, yet not an IN_PROGRESS match.
    s1 = await results(api, "SCHOOL", "s1", filters=["IN_PROGRESS"], as_user="sm")
    assert s1["edges"] == [] and s1["totalCount"] == 0
    not_logged_in = await results(api, "DISTRICT", None, "m2", filters=["NOT_LOGGED_IN"])
    assert rows(not_logged_in) == [("t3", "COMPLETE", False)]
    either = await results(api, "DISTRICT", None, "m2", filters=["COMPLETE", "NOT_LOGGED_IN"])
    assert rows(either) == [("t3", "COMPLETE", False), ("t2", "COMPLETE", True)]
    # Once they log in, they match by status.
    await login(api, "t3")
    complete_m2 = await results(api, "DISTRICT", None, "m2", filters=["COMPLETE"])
    assert rows(complete_m2) == [("t3", "COMPLETE", True), ("t2", "COMPLETE", True)]
    assert (await results(api, "DISTRICT", filters=["NOT_LOGGED_IN"]))["totalCount"] == 0


async def test_logged_in_rows_add_up_to_the_scope_counts(api: Api) -> None:
    await seed_progress(api)
    cases = [
        ("DISTRICT", None, "m1", "LITERACY", "plm"),
        ("DISTRICT", None, "m1", "FLUENCY", "plm"),
        ("DISTRICT", None, "m2", "LITERACY", "plm"),
        ("DISTRICT", None, "m3", "FLUENCY", "plm"),
        ("SCHOOL", "s1", "m1", "LITERACY", "sm"),
        ("SCHOOL", "s2", "m1", "LITERACY", "plm"),
        ("COHORT", "c1", "m3", "LITERACY", "cm"),
    ]
    name = {"NOT_STARTED": 0, "IN_PROGRESS": 1, "COMPLETE": 2}
    for kind, key, module, level, who in cases:
        listed = await results(api, kind, key, module, level, as_user=who)
        tallied = Counter(s for _, s, logged_in in rows(listed) if logged_in)
        stats = await scope_stats(api, kind, key, module=module, level=level, as_user=who)
        expected = [0, 0, 0]
        for status, n in tallied.items():
            expected[name[status]] = n
        assert tally(stats["counts"]) == (*expected, sum(expected)), (kind, key, module, level)


def _pat_users() -> dict[str, Any]:
    """world() plus 24 included, logged-in users in pairs of equal names, 3 who never
    logged in and 2 excluded ones: 34 listed in the district."""
    data = world()
    t = "2026-09-01T12:00:00Z"
    data["users"] += [
        {"key": f"p{i:02d}", "district": "d1", "name": f"Pat {i // 2:02d}", "firstLoginAt": t}
        for i in range(24)
    ]
    data["users"] += [{"key": f"n{i}", "district": "d1", "name": f"Pat {i:02d}"} for i in range(3)]
    data["users"] += [
        {
            "key": f"ex{i}",
            "district": "d1",
            "name": f"Pat {i:02d}",
            "firstLoginAt": t,
            "statsInclusion": "EXCLUDE",
        }
        for i in range(2)
    ]
    return data


async def _walk(api: Api, size: int, filters: list[str] | None = None) -> list[str]:
    walked: list[str] = []
    after = None
    total = None
    while True:
        page = await results(api, "DISTRICT", filters=filters, first=size, after=after)
        total = page["totalCount"] if total is None else total
        assert page["totalCount"] == total  # the same on every page
        assert len(page["edges"]) <= size
        walked += keys(page)
        assert page["pageInfo"]["endCursor"] == (
            page["edges"][-1]["cursor"] if page["edges"] else None
        )
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert len(page["edges"]) == size
        after = page["pageInfo"]["endCursor"]
    assert len(walked) == total
    return walked


async def test_pagination_walks_every_row_once(api: Api) -> None:
    await seed_progress(api, _pat_users())
    everything = await results(api, "DISTRICT", first=100)
    listed = keys(everything)
    assert everything["totalCount"] == 34 == len(listed) == len(set(listed))
    assert not any(k.startswith("ex") for k in listed) and "adm" not in listed
    for size in (1, 5, 7, 34, 50):
        assert await _walk(api, size) == listed, size
    # With a filter: the pages hold exactly the filtered rows.
    matching = keys(await results(api, "DISTRICT", filters=["NOT_LOGGED_IN", "COMPLETE"]))
    assert sorted(matching) == ["cm", "n0", "n1", "n2", "t1", "t3"]
    assert await _walk(api, 2, ["NOT_LOGGED_IN", "COMPLETE"]) == matching
    # The default page is 50 rows.
    assert len((await results(api, "DISTRICT"))["edges"]) == 34


async def test_bad_page_sizes_and_cursors_are_input_errors(api: Api) -> None:
    await seed_progress(api)
    for first in (101, -1):
        err = await api.error(
            RESULTS, await results_vars(api, "DISTRICT", None, first=first), as_user="plm"
        )
        assert err["extensions"]["code"] == "BAD_USER_INPUT"
        assert "first" in err["message"]
    queue = await api.ok("{ reviewQueue(first: 1) { edges { cursor } } }", as_user="plm")
    foreign_cursor = queue["reviewQueue"]["edges"][0]["cursor"]
    for after in (
        "not-a-cursor",
        foreign_cursor,
        encode_cursor("results", "Ada Park"),
        encode_cursor("results", "Ada Park", "not-a-number"),
        encode_cursor("results", ["Ada Park"], {"id": 1}),
    ):
        err = await api.error(
            RESULTS, await results_vars(api, "DISTRICT", None, after=after), as_user="plm"
        )
        assert err["extensions"]["code"] == "BAD_USER_INPUT", (after, err)
        assert "after" in err["message"]
    # The review queue's cursors are checked the same way.
    err = await api.error(
        "query($a: String) { reviewQueue(after: $a) { totalCount } }",
        {"a": encode_cursor("review-queue", "not-a-number")},
        as_user="plm",
    )
    assert err["extensions"]["code"] == "BAD_USER_INPUT"


async def test_who_may_see_individual_results(api: Api) -> None:
    await seed_progress(api)
    allowed = [
        ("plm", "DISTRICT", None),
        ("plm", "SCHOOL", "s1"),
        ("plm", "SCHOOL", "s2"),
        ("plm", "COHORT", "c1"),
        ("sm", "SCHOOL", "s1"),
        ("cm", "COHORT", "c1"),
    ]
    for who, kind, key in allowed:
        listed = await results(api, kind, key, as_user=who)
        assert listed["totalCount"] >= 1, (who, kind, key)
    forbidden = [
        ("sm", "SCHOOL", "s2"),
        ("sm", "COHORT", "c1"),
        ("sm", "DISTRICT", None),
        ("cm", "SCHOOL", "s1"),
        ("cm", "DISTRICT", None),
        ("t1", "SCHOOL", "s1"),
        ("t1", "COHORT", "c1"),
        ("t1", "DISTRICT", None),
        ("um", "DISTRICT", None),
        ("um", "SCHOOL", "s1"),
        ("adm", "DISTRICT", None),
    ]
    for who, kind, key in forbidden:
        err = await api.error(RESULTS, await results_vars(api, kind, key), as_user=who)
        assert err["extensions"]["code"] == "FORBIDDEN", (who, kind, key, err)

    reader = api.integration("d1", "stats:read")
    assert rows(await results(api, "DISTRICT", token=reader)) == M1_LITERACY
    assert keys(await results(api, "COHORT", "c1", token=reader)) == ["t1"]
    writer = api.integration("d1", "progress:write", "roster:write")
    err = await api.error(RESULTS, await results_vars(api, "DISTRICT", None), token=writer)
    assert err["extensions"]["code"] == "FORBIDDEN" and "stats:read" in err["message"]
    err = await api.error(RESULTS, await results_vars(api, "DISTRICT", None))
    assert err["extensions"]["code"] == "UNAUTHENTICATED"


async def test_ids_of_another_district_and_levels_a_module_lacks(api: Api) -> None:
    await seed_progress(api)
    foreign = await api.error(RESULTS, await results_vars(api, "SCHOOL", "s9"), as_user="plm")
    assert foreign["extensions"]["code"] == "NOT_FOUND"
    # d2's PL manager: d1's school and d1's own module read as missing.
    err = await api.error(RESULTS, await results_vars(api, "SCHOOL", "s1"), as_user="x1")
    assert err["extensions"]["code"] == "NOT_FOUND" and err["message"] == foreign["message"]
    err = await api.error(RESULTS, await results_vars(api, "DISTRICT", None, "m3"), as_user="x1")
    assert err["extensions"]["code"] == "NOT_FOUND"
    err = await api.error(RESULTS, await results_vars(api, "DISTRICT", None, "m9"), as_user="plm")
    assert err["extensions"]["code"] == "NOT_FOUND"
    no_fluency = await api.error(
        RESULTS, await results_vars(api, "DISTRICT", None, "m2", "FLUENCY"), as_user="plm"
    )
    assert no_fluency["extensions"]["code"] == "BAD_USER_INPUT"
    wrong_kind = await api.error(
        RESULTS,
        {
            "s": {"kind": "SCHOOL", "id": await api.id("Cohort", "c1")},
            "m": await api.id("Module", "m1"),
            "l": "LITERACY",
        },
        as_user="plm",
    )
    assert wrong_kind["extensions"]["code"] == "BAD_USER_INPUT"
    # Everyone of d2 sees d2's people only.
    assert keys(await results(api, "DISTRICT", None, "m9", as_user="x1")) == ["x1"]
