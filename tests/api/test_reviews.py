"""Who reviews Fluency submissions, and the review queue."""

from __future__ import annotations

from tests.support import Api, world

REVIEW = """mutation($s: ID!) { reviewSubmission(submissionId: $s, approve: true) { state } }"""
QUEUE = """query($first: Int, $after: String) { reviewQueue(first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id user { key } page { key } submittedAt } } } }"""


async def _submit(api: Api, user: str, page: str = "m1-f2") -> str:
    out = await api.ok(
        "mutation($p: ID!) { completePage(pageId: $p) { submission { id } } }",
        {"p": await api.id("Page", page)},
        as_user=user,
    )
    return out["completePage"]["submission"]["id"]


async def test_reviewers_are_group_managers_of_the_learner_and_pl_managers(api: Api) -> None:
    await api.seed(world())
    t1_sub = await _submit(api, "t1")  # t1: member of s1 (manager sm) and c1 (manager cm)
    t2_sub = await _submit(api, "t2")  # t2: member of s2, which has no manager
    for who in ("t1", "t2", "um", "adm"):
        err = await api.error(REVIEW, {"s": t1_sub}, as_user=who)
        assert err["extensions"]["code"] == "FORBIDDEN", who
    err = await api.error(REVIEW, {"s": t2_sub}, as_user="sm")
    assert err["extensions"]["code"] == "FORBIDDEN"
    assert (await api.ok(REVIEW, {"s": t1_sub}, as_user="cm"))["reviewSubmission"]["state"] == (
        "COMPLETE"
    )
    assert (await api.ok(REVIEW, {"s": t2_sub}, as_user="plm"))["reviewSubmission"]["state"] == (
        "COMPLETE"
    )


async def test_a_pl_manager_never_reviews_their_own_submission(api: Api) -> None:
    await api.seed(world())
    own = await _submit(api, "plm")
    err = await api.error(REVIEW, {"s": own}, as_user="plm")
    assert err["extensions"]["code"] == "FORBIDDEN"


async def test_integrations_cannot_review_and_other_districts_see_not_found(api: Api) -> None:
    await api.seed(world())
    sub = await _submit(api, "t1")
    token = api.integration("d1", "stats:read", "progress:write", "roster:write")
    err = await api.error(REVIEW, {"s": sub}, token=token)
    assert err["extensions"]["code"] == "FORBIDDEN"
    err = await api.error(REVIEW, {"s": sub}, as_user="x1")  # d2's PL manager
    assert err["extensions"]["code"] == "NOT_FOUND"


async def test_the_review_queue_lists_what_the_viewer_may_review(api: Api) -> None:
    await api.seed(world())
    await _submit(api, "t1")
    await _submit(api, "t2")
    await _submit(api, "t1", "m3-f1")

    async def queue(who: str) -> list[tuple[str, str]]:
        data = await api.ok(QUEUE, {"first": 50}, as_user=who)
        return [
            (e["node"]["user"]["key"], e["node"]["page"]["key"])
            for e in data["reviewQueue"]["edges"]
        ]

    assert await queue("sm") == [("t1", "m1-f2"), ("t1", "m3-f1")]
    assert await queue("plm") == [("t1", "m1-f2"), ("t2", "m1-f2"), ("t1", "m3-f1")]
    assert await queue("t1") == []
    assert await queue("x1") == []
    err = await api.error(QUEUE, {}, token=api.integration("d1", "stats:read"))
    assert err["extensions"]["code"] == "FORBIDDEN"


async def test_the_review_queue_pages_with_cursors(api: Api) -> None:
    await api.seed(world())
    for user in ("t1", "t2", "t3"):
        await _submit(api, user)
    first = (await api.ok(QUEUE, {"first": 2}, as_user="plm"))["reviewQueue"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"] is True
    rest = (
        await api.ok(QUEUE, {"first": 2, "after": first["pageInfo"]["endCursor"]}, as_user="plm")
    )["reviewQueue"]
    assert rest["pageInfo"]["hasNextPage"] is False
    keys = [e["node"]["user"]["key"] for e in first["edges"] + rest["edges"]]
    assert keys == ["t1", "t2", "t3"]
    err = await api.error(QUEUE, {"first": 2, "after": "bogus"}, as_user="plm")
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
