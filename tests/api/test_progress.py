"""Page progress and micro-certifications through the public API (DOMAIN.md "Progress")."""

from __future__ import annotations

from sqlalchemy import func, select

from models.tables import Certification, FeedItem
from tests.support import Api, world

START = """mutation($page: ID!, $user: ID) { startPage(pageId: $page, userId: $user) {
  page { id } state badge { literacy fluency } earned { level earnedBy } } }"""
COMPLETE = """mutation($page: ID!, $user: ID) { completePage(pageId: $page, userId: $user) {
  page { id } state badge { literacy fluency } earned { level earnedBy }
  submission { id status } } }"""
ME = """{ me { badges { module { key } literacy fluency }
  certifications { module { key } level earnedBy earnedAt } } }"""


async def _complete(api: Api, page_key: str, as_user: str = "t1") -> dict:
    data = await api.ok(COMPLETE, {"page": await api.id("Page", page_key)}, as_user=as_user)
    return data["completePage"]


async def _badge(api: Api, module_key: str, as_user: str = "t1") -> dict:
    me = (await api.ok(ME, as_user=as_user))["me"]
    return next(b for b in me["badges"] if b["module"]["key"] == module_key)


async def _count(api: Api, table: type) -> int:
    async with api.db.read() as s:
        return (await s.execute(select(func.count()).select_from(table))).scalar_one()


async def test_start_moves_the_level_to_in_progress_and_repeating_is_a_no_op(api: Api) -> None:
    await api.seed(world())
    page = await api.id("Page", "m1-l1")
    first = (await api.ok(START, {"page": page}, as_user="t1"))["startPage"]
    assert first["state"] == "STARTED"
    assert first["badge"] == {"literacy": "IN_PROGRESS", "fluency": "NOT_STARTED"}
    again = (await api.ok(START, {"page": page}, as_user="t1"))["startPage"]
    assert again["state"] == "STARTED" and again["earned"] == []


async def test_literacy_is_earned_once_when_every_literacy_page_is_complete(api: Api) -> None:
    await api.seed(world())
    one = await _complete(api, "m1-l1")
    assert one["state"] == "COMPLETE" and one["earned"] == []
    assert one["badge"]["literacy"] == "IN_PROGRESS"
    two = await _complete(api, "m1-l2")
    assert two["earned"] == [{"level": "LITERACY", "earnedBy": "PAGES"}]
    assert two["badge"] == {"literacy": "COMPLETE", "fluency": "NOT_STARTED"}
    repeat = await _complete(api, "m1-l2")
    assert repeat["earned"] == [] and repeat["state"] == "COMPLETE"
    me = (await api.ok(ME, as_user="t1"))["me"]
    assert [(c["module"]["key"], c["level"]) for c in me["certifications"]] == [("m1", "LITERACY")]
    assert await _count(api, Certification) == 1


async def test_a_module_without_fluency_shows_literacy_only(api: Api) -> None:
    await api.seed(world())
    assert await _badge(api, "m2") == {
        "module": {"key": "m2"},
        "literacy": "NOT_STARTED",
        "fluency": None,
    }
    done = await _complete(api, "m2-l1")
    assert done["earned"] == [{"level": "LITERACY", "earnedBy": "PAGES"}]
    assert done["badge"] == {"literacy": "COMPLETE", "fluency": None}


async def test_fluency_review_page_counts_only_once_approved(api: Api) -> None:
    await api.seed(world())
    await _complete(api, "m1-f1")
    submitted = await _complete(api, "m1-f2")
    assert submitted["state"] == "SUBMITTED"
    assert submitted["submission"]["status"] == "PENDING"
    assert submitted["badge"]["fluency"] == "IN_PROGRESS" and submitted["earned"] == []
    # Completing a submitted page again does not submit twice.
    again = await _complete(api, "m1-f2")
    assert (
        again["state"] == "SUBMITTED"
        and again["submission"]["id"] == (submitted["submission"]["id"])
    )
    review = await api.ok(
        """mutation($s: ID!) { reviewSubmission(submissionId: $s, approve: true) {
             state earned { level earnedBy } badge { literacy fluency }
             submission { status } } }""",
        {"s": submitted["submission"]["id"]},
        as_user="sm",
    )
    assert review["reviewSubmission"] == {
        "state": "COMPLETE",
        "earned": [{"level": "FLUENCY", "earnedBy": "PAGES"}],
        "badge": {"literacy": "NOT_STARTED", "fluency": "COMPLETE"},
        "submission": {"status": "APPROVED"},
    }


async def test_a_returned_page_is_resubmitted_then_approved(api: Api) -> None:
    await api.seed(world())
    await _complete(api, "m1-f1")
    first = (await _complete(api, "m1-f2"))["submission"]["id"]
    returned = await api.ok(
        """mutation($s: ID!) { reviewSubmission(submissionId: $s, approve: false,
             feedback: "Add a student example") { state submission { status feedback } } }""",
        {"s": first},
        as_user="cm",
    )
    assert returned["reviewSubmission"] == {
        "state": "RETURNED",
        "submission": {"status": "RETURNED", "feedback": "Add a student example"},
    }
    assert (await _badge(api, "m1"))["fluency"] == "IN_PROGRESS"
    resubmitted = await _complete(api, "m1-f2")
    assert resubmitted["state"] == "SUBMITTED"
    second = resubmitted["submission"]["id"]
    assert second != first
    approved = await api.ok(
        "mutation($s: ID!) { reviewSubmission(submissionId: $s, approve: true) { state } }",
        {"s": second},
        as_user="plm",
    )
    assert approved["reviewSubmission"]["state"] == "COMPLETE"
    assert (await _badge(api, "m1"))["fluency"] == "COMPLETE"


async def test_a_review_decision_is_final_and_repeating_it_is_a_no_op(api: Api) -> None:
    await api.seed(world())
    await _complete(api, "m1-f1")
    sub = (await _complete(api, "m1-f2"))["submission"]["id"]
    review = "mutation($s: ID!, $a: Boolean!) { reviewSubmission(submissionId: $s, approve: $a) { state earned { level } } }"  # noqa: E501
    first = await api.ok(review, {"s": sub, "a": True}, as_user="sm")
    assert first["reviewSubmission"]["earned"] == [{"level": "FLUENCY"}]
    repeat = await api.ok(review, {"s": sub, "a": True}, as_user="plm")
    assert repeat["reviewSubmission"] == {"state": "COMPLETE", "earned": []}
    flip = await api.error(review, {"s": sub, "a": False}, as_user="plm")
    assert flip["extensions"]["code"] == "BAD_USER_INPUT"
    assert "already approved" in flip["message"]


async def test_content_added_after_a_certification_does_not_revoke_it(api: Api) -> None:
    await api.seed(world())
    await _complete(api, "m2-l1")
    data = world()
    m2 = next(m for m in data["modules"] if m["key"] == "m2")
    m2["pages"] += [
        {"key": "m2-l2", "level": "LITERACY", "title": "New page"},
        {"key": "m2-f1", "level": "FLUENCY", "title": "New fluency page"},
    ]
    await api.seed(data)
    badge = await _badge(api, "m2")
    assert badge["literacy"] == "COMPLETE"
    assert badge["fluency"] == "NOT_STARTED"  # the module now has a Fluency level
    me = (await api.ok(ME, as_user="t1"))["me"]
    assert [c["module"]["key"] for c in me["certifications"]] == ["m2"]


async def test_page_content_changes_move_in_progress_statuses(api: Api) -> None:
    """A page moved from Fluency to Literacy by a re-import re-derives statuses."""
    await api.seed(world())
    await _complete(api, "m1-f1")
    assert (await _badge(api, "m1"))["literacy"] == "NOT_STARTED"
    data = world()
    m1 = next(m for m in data["modules"] if m["key"] == "m1")
    m1["pages"][2]["level"] = "LITERACY"
    await api.seed(data)
    assert (await _badge(api, "m1"))["literacy"] == "IN_PROGRESS"


async def test_feed_item_is_written_only_while_the_earner_shares(api: Api) -> None:
    await api.seed(world())
    await _complete(api, "m2-l1", as_user="t1")
    assert await _count(api, FeedItem) == 1
    await api.ok(
        "mutation { updatePreferences(input: {shareCertificationsInFeed: false}) { key } }",
        as_user="t2",
    )
    await _complete(api, "m2-l1", as_user="t2")
    assert await _count(api, FeedItem) == 1
    assert await _count(api, Certification) == 2


async def test_integrations_record_progress_for_a_user_of_their_district(api: Api) -> None:
    await api.seed(world())
    tool = api.integration("d1", "progress:write")
    vars_ = {"page": await api.id("Page", "m2-l1"), "user": await api.id("User", "t2")}
    done = (await api.ok(COMPLETE, vars_, token=tool))["completePage"]
    assert done["earned"] == [{"level": "LITERACY", "earnedBy": "PAGES"}]
    assert (await _badge(api, "m2", as_user="t2"))["literacy"] == "COMPLETE"


async def test_progress_permissions(api: Api) -> None:
    await api.seed(world())
    page = await api.id("Page", "m2-l1")
    t2 = await api.id("User", "t2")
    # A user writes only their own progress, whoever they are.
    for who in ("t1", "plm", "um"):
        err = await api.error(COMPLETE, {"page": page, "user": t2}, as_user=who)
        assert err["extensions"]["code"] == "FORBIDDEN"
    own = await api.ok(START, {"page": page, "user": await api.id("User", "t1")}, as_user="t1")
    assert own["startPage"]["state"] == "STARTED"
    # An integration needs progress:write, and must say whose progress it is.
    err = await api.error(
        START, {"page": page, "user": t2}, token=api.integration("d1", "stats:read")
    )
    assert err["extensions"]["code"] == "FORBIDDEN"
    err = await api.error(START, {"page": page}, token=api.integration("d1", "progress:write"))
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and "userId" in err["message"]


async def test_another_districts_ids_read_as_not_found(api: Api) -> None:
    await api.seed(world())
    foreign_page = await api.id("Page", "m9-l1")
    for mutation in (START, COMPLETE):
        err = await api.error(mutation, {"page": foreign_page}, as_user="t1")
        assert err["extensions"]["code"] == "NOT_FOUND"
    missing = await api.error(START, {"page": "UGFnZTo5OTk5OTk="}, as_user="t1")  # Page:999999
    assert missing["extensions"]["code"] == "NOT_FOUND"
    assert missing["message"] == err["message"]
    tool = api.integration("d1", "progress:write")
    err = await api.error(
        START,
        {"page": await api.id("Page", "m1-l1"), "user": await api.id("User", "x1")},
        token=tool,
    )
    assert err["extensions"]["code"] == "NOT_FOUND"


async def test_unauthenticated_mutations_are_refused(api: Api) -> None:
    await api.seed(world())
    err = await api.error(START, {"page": await api.id("Page", "m1-l1")})
    assert err["extensions"]["code"] == "UNAUTHENTICATED"
