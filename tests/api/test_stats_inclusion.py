"""setStatsInclusion and its history through the public API (DOMAIN.md "Who counts in
Comparison Stats": every change of statsInclusion is recorded: who, when, from what to what)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from resolvers.ids import encode_id
from tests.api.stats_support import (
    SET_INCLUSION,
    USER_FLAGS,
    dashboard,
    keys,
    results,
    scope_stats,
    seed_progress,
    set_inclusion,
    tally,
)
from tests.support import Api, world

HISTORY = "statsInclusionHistory { fromInclusion toInclusion changedBy reason changedAt }"


async def _flags(api: Api, user: str, *, as_user: str = "plm", token: str | None = None) -> dict:
    variables = {"u": await api.id("User", user)}
    data = await api.ok(USER_FLAGS, variables, as_user=None if token else as_user, token=token)
    return dict(data["node"])


def _changes(flags: dict[str, Any]) -> list[tuple[str, str, str, str | None]]:
    return [
        (h["fromInclusion"], h["toInclusion"], h["changedBy"], h["reason"])
        for h in flags["statsInclusionHistory"]
    ]


async def _vars(api: Api, user: str, inclusion: str, reason: str | None = None) -> dict:
    return {"u": await api.id("User", user), "i": inclusion, "r": reason}


async def _district(api: Api, module: str = "m1") -> tuple[int, int, int, int]:
    return tally((await scope_stats(api, "DISTRICT", module=module, as_user="plm"))["counts"])


async def test_pl_and_users_managers_change_inclusion_and_each_change_is_recorded(
    api: Api,
) -> None:
    await seed_progress(api)
    assert await _district(api) == (3, 1, 2, 6)
    t2 = await set_inclusion(api, "t2", "EXCLUDE", as_user="plm", reason="On leave")
    assert t2 == {"key": "t2", "statsInclusion": "EXCLUDE", "statsExcluded": True}
    assert await _district(api) == (3, 0, 2, 5)
    assert (await scope_stats(api, "SCHOOL", "s2", as_user="plm"))["countedUsers"] == 0

    back = await set_inclusion(api, "t2", "DEFAULT", as_user="um", reason="Back")
    assert back == {"key": "t2", "statsInclusion": "DEFAULT", "statsExcluded": False}
    assert await _district(api) == (3, 1, 2, 6)
    assert (await scope_stats(api, "SCHOOL", "s2", as_user="plm"))["countedUsers"] == 1

    await set_inclusion(api, "t2", "INCLUDE", as_user="um")
    assert await _district(api) == (3, 1, 2, 6)  # DEFAULT and INCLUDE both count t2

    flags = await _flags(api, "t2")
    assert flags["statsInclusion"] == "INCLUDE"
    # Newest first.
    assert _changes(flags) == [
        ("DEFAULT", "INCLUDE", "um", None),
        ("EXCLUDE", "DEFAULT", "um", "Back"),
        ("DEFAULT", "EXCLUDE", "plm", "On leave"),
    ]
    stamps = [
        datetime.fromisoformat(h["changedAt"].replace("Z", "+00:00"))
        for h in flags["statsInclusionHistory"]
    ]
    assert stamps == sorted(stamps, reverse=True)
    assert all(s.tzinfo is not None for s in stamps)
    # The history is the user's own: nobody else's changes show.
    assert (await _flags(api, "t1"))["statsInclusionHistory"] == []


async def test_dcf_users_move_between_excluded_and_counted(api: Api) -> None:
    await seed_progress(api)
    assert (await _flags(api, "adm"))["statsExcluded"] is True
    await set_inclusion(api, "adm", "INCLUDE")
    assert await _district(api) == (3, 1, 3, 7)
    await set_inclusion(api, "adm", "EXCLUDE")
    assert await _district(api) == (3, 1, 2, 6)
    # EXCLUDE -> DEFAULT leaves a DCF user excluded: the numbers stay, the change is recorded.
    await set_inclusion(api, "adm", "DEFAULT")
    assert await _district(api) == (3, 1, 2, 6)
    flags = await _flags(api, "adm", as_user="um")
    assert flags["statsExcluded"] is True
    assert [(f, t) for f, t, _, _ in _changes(flags)] == [
        ("EXCLUDE", "DEFAULT"),
        ("INCLUDE", "EXCLUDE"),
        ("DEFAULT", "INCLUDE"),
    ]


async def test_a_never_logged_in_user_is_listed_or_not_but_never_counted(api: Api) -> None:
    await seed_progress(api)
    await set_inclusion(api, "t3", "EXCLUDE")
    assert await _district(api) == (3, 1, 2, 6)
    assert "t3" not in keys(await results(api, "SCHOOL", "s1"))
    await set_inclusion(api, "t3", "INCLUDE")
    assert await _district(api) == (3, 1, 2, 6)
    assert keys(await results(api, "SCHOOL", "s1")) == ["t3", "t1"]


async def test_setting_the_same_value_is_a_no_op(api: Api) -> None:
    await seed_progress(api)
    same = await set_inclusion(api, "t2", "DEFAULT", reason="nothing to change")
    assert same == {"key": "t2", "statsInclusion": "DEFAULT", "statsExcluded": False}
    assert (await _flags(api, "t2"))["statsInclusionHistory"] == []
    assert await _district(api) == (3, 1, 2, 6)

    await set_inclusion(api, "t2", "EXCLUDE")
    await set_inclusion(api, "t2", "EXCLUDE", as_user="um")
    await set_inclusion(
        api, "t2", "EXCLUDE", as_user=None, token=api.integration("d1", "roster:write")
    )
    assert _changes(await _flags(api, "t2")) == [("DEFAULT", "EXCLUDE", "plm", None)]
    # Excluding twice takes t2 out once.
    assert await _district(api) == (3, 0, 2, 5)


async def test_teachers_and_group_managers_may_not_change_inclusion(api: Api) -> None:
    await seed_progress(api)
    for who in ("t1", "sm", "cm", "adm", "t3"):
        for target in ("t1", "t2", who):
            err = await api.error(SET_INCLUSION, await _vars(api, target, "EXCLUDE"), as_user=who)
            assert err["extensions"]["code"] == "FORBIDDEN", (who, target)
    assert (await _flags(api, "t1"))["statsInclusion"] == "DEFAULT"
    assert (await _flags(api, "t1"))["statsInclusionHistory"] == []
    assert await _district(api) == (3, 1, 2, 6)


async def test_integrations_need_roster_write(api: Api) -> None:
    await seed_progress(api)
    roster = api.integration("d1", "roster:write", name="sis-sync")
    out = await set_inclusion(api, "t1", "EXCLUDE", as_user=None, token=roster, reason="SIS")
    assert out["statsInclusion"] == "EXCLUDE"
    assert await _district(api) == (3, 1, 1, 5)
    for scopes in (("stats:read",), ("progress:write",), ("stats:read", "progress:write")):
        err = await api.error(
            SET_INCLUSION,
            await _vars(api, "t2", "EXCLUDE"),
            token=api.integration("d1", *scopes),
        )
        assert err["extensions"]["code"] == "FORBIDDEN"
        assert "roster:write" in err["message"]
    # The integration that may change inclusion reads the history too.
    flags = await _flags(api, "t1", token=roster)
    assert _changes(flags) == [("DEFAULT", "EXCLUDE", "integration:sis-sync", "SIS")]
    assert (await _flags(api, "t2"))["statsInclusion"] == "DEFAULT"


async def test_another_districts_user_is_not_found(api: Api) -> None:
    await seed_progress(api)
    foreign = await api.error(SET_INCLUSION, await _vars(api, "x1", "EXCLUDE"), as_user="plm")
    assert foreign["extensions"]["code"] == "NOT_FOUND"
    missing = await api.error(
        SET_INCLUSION, {"u": encode_id("User", 999_999), "i": "EXCLUDE"}, as_user="plm"
    )
    assert missing["extensions"]["code"] == "NOT_FOUND"
    assert missing["message"] == foreign["message"]
    err = await api.error(
        SET_INCLUSION,
        await _vars(api, "x1", "EXCLUDE"),
        token=api.integration("d1", "roster:write"),
    )
    assert err["extensions"]["code"] == "NOT_FOUND"
    # d2's own PL manager can; x1 stays counted in d2 until then.
    d2 = api.integration("d2", "stats:read")
    assert (await scope_stats(api, "DISTRICT", token=d2))["countedUsers"] == 1
    await set_inclusion(api, "x1", "EXCLUDE", as_user="x1")
    assert (await scope_stats(api, "DISTRICT", token=d2))["countedUsers"] == 0
    assert (await dashboard(api, "plm", "m1"))["district"]["countedUsers"] == 6
    not_a_user = await api.error(
        SET_INCLUSION, {"u": await api.id("Module", "m1"), "i": "EXCLUDE"}, as_user="plm"
    )
    assert not_a_user["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_history_is_for_those_who_manage_inclusion(api: Api) -> None:
    await api.seed(world())
    await set_inclusion(api, "t1", "EXCLUDE", reason="Student teacher")
    expected = [("DEFAULT", "EXCLUDE", "plm", "Student teacher")]
    assert _changes(await _flags(api, "t1", as_user="plm")) == expected
    assert _changes(await _flags(api, "t1", as_user="um")) == expected
    t1 = await api.id("User", "t1")
    for who in ("t1", "t2", "sm", "cm"):
        err = await api.error(
            f"query($u: ID!) {{ node(id: $u) {{ ... on User {{ {HISTORY} }} }} }}",
            {"u": t1},
            as_user=who,
        )
        assert err["extensions"]["code"] == "FORBIDDEN", who
    # Not even one's own.
    err = await api.error(f"{{ me {{ {HISTORY} }} }}", as_user="t1")
    assert err["extensions"]["code"] == "FORBIDDEN"
    # The excluded user still sees that they are excluded, and their own stats.
    view = await dashboard(api, "t1")
    assert view["statsExcluded"] is True
    assert view["personal"]["total"] == 3


async def test_an_overlong_reason_is_refused_and_changes_nothing(api: Api) -> None:
    await seed_progress(api)
    err = await api.error(
        SET_INCLUSION, await _vars(api, "t2", "EXCLUDE", "x" * 2001), as_user="plm"
    )
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert "reason" in err["message"]
    flags = await _flags(api, "t2")
    assert flags["statsInclusion"] == "DEFAULT" and flags["statsInclusionHistory"] == []
    assert await _district(api) == (3, 1, 2, 6)
    long_enough = await set_inclusion(api, "t2", "EXCLUDE", reason="y" * 2000)
    assert long_enough["statsInclusion"] == "EXCLUDE"
