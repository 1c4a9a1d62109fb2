"""Query.newsFeed: newest first, the district's items only, opt-out applied at read time."""

from __future__ import annotations

from tests.support import Api, world

FEED = """query($first: Int, $after: String) { newsFeed(first: $first, after: $after) {
  pageInfo { hasNextPage endCursor }
  edges { cursor node { id key cursor kind createdAt user { key name }
    certification { module { key } level earnedBy } } } } }"""
COMPLETE = "mutation($p: ID!) { completePage(pageId: $p) { earned { level } } }"
SHARE = (
    "mutation($s: Boolean!) { updatePreferences(input: {shareCertificationsInFeed: $s}) { key } }"
)


async def _earn(api: Api, user: str, *pages: str) -> None:
    for page in pages:
        await api.ok(COMPLETE, {"p": await api.id("Page", page)}, as_user=user)


async def _feed(api: Api, user: str = "t3", **variables) -> list[tuple[str, str, str]]:
    data = await api.ok(FEED, variables, as_user=user)
    return [
        (
            e["node"]["user"]["key"],
            e["node"]["certification"]["module"]["key"],
            e["node"]["certification"]["level"],
        )
        for e in data["newsFeed"]["edges"]
    ]


async def test_the_feed_lists_certifications_newest_first(api: Api) -> None:
    await api.seed(world())
    await _earn(api, "t1", "m2-l1")
    await _earn(api, "t2", "m2-l1", "m1-l1", "m1-l2")
    assert await _feed(api) == [
        ("t2", "m1", "LITERACY"),
        ("t2", "m2", "LITERACY"),
        ("t1", "m2", "LITERACY"),
    ]
    data = await api.ok(FEED, {"first": 1}, as_user="t1")
    node = data["newsFeed"]["edges"][0]["node"]
    assert node["kind"] == "CERTIFICATION_EARNED"
    assert node["certification"]["earnedBy"] == "PAGES"
    assert node["key"].startswith("feed-item-")
    found = await api.ok(
        "query($id: ID!) { node(id: $id) { ... on FeedItem { cursor } } }",
        {"id": node["id"]},
        as_user="plm",
    )
    assert found["node"]["cursor"] == node["cursor"]


async def test_turning_sharing_off_hides_earlier_items_and_on_shows_them_again(api: Api) -> None:
    await api.seed(world())
    await _earn(api, "t1", "m2-l1")
    await _earn(api, "t2", "m2-l1")
    await api.ok(SHARE, {"s": False}, as_user="t1")
    assert await _feed(api) == [("t2", "m2", "LITERACY")]
    await _earn(api, "t1", "m1-l1", "m1-l2")  # earned while not sharing: no item is made
    await api.ok(SHARE, {"s": True}, as_user="t1")
    assert await _feed(api) == [("t2", "m2", "LITERACY"), ("t1", "m2", "LITERACY")]


async def test_each_district_reads_only_its_own_feed(api: Api) -> None:
    await api.seed(world())
    await _earn(api, "t1", "m2-l1")
    await _earn(api, "x1", "m9-l1")
    assert await _feed(api, "t3") == [("t1", "m2", "LITERACY")]
    assert await _feed(api, "x1") == [("x1", "m9", "LITERACY")]
    foreign = (await api.ok(FEED, {"first": 1}, as_user="x1"))["newsFeed"]["edges"][0]
    err = await api.error(
        "query($id: ID!) { node(id: $id) { id } }", {"id": foreign["node"]["id"]}, as_user="t1"
    )
    assert err["extensions"]["code"] == "NOT_FOUND"
    err = await api.error(FEED, {"after": foreign["cursor"]}, as_user="t1")
    assert err["extensions"]["code"] == "RESYNC_REQUIRED"


async def test_the_feed_pages_with_cursors_and_stats_excluded_users_still_appear(
    api: Api,
) -> None:
    await api.seed(world())
    await api.ok(
        "mutation($u: ID!) { setStatsInclusion(userId: $u, inclusion: EXCLUDE) { key } }",
        {"u": await api.id("User", "t2")},
        as_user="plm",
    )
    await _earn(api, "t1", "m2-l1", "m1-l1", "m1-l2")
    await _earn(api, "t2", "m2-l1")
    first = (await api.ok(FEED, {"first": 2}, as_user="t3"))["newsFeed"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (
        await api.ok(FEED, {"first": 2, "after": first["pageInfo"]["endCursor"]}, as_user="t3")
    )["newsFeed"]
    assert rest["pageInfo"]["hasNextPage"] is False
    users = [e["node"]["user"]["key"] for e in first["edges"] + rest["edges"]]
    assert users == ["t2", "t1", "t1"]


async def test_who_may_read_the_feed(api: Api) -> None:
    await api.seed(world())
    await _earn(api, "t1", "m2-l1")
    reader = api.integration("d1", "stats:read")
    assert len((await api.ok(FEED, {}, token=reader))["newsFeed"]["edges"]) == 1
    err = await api.error(FEED, {}, token=api.integration("d1", "progress:write"))
    assert err["extensions"]["code"] == "FORBIDDEN"
    assert (await api.error(FEED, {}))["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await api.error(FEED, {"after": "garbage"}, as_user="t1"))["extensions"][
        "code"
    ] == "BAD_USER_INPUT"
