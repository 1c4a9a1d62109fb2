"""Pre-assessment results come from the assessment engine (an integration)."""

from __future__ import annotations

from sqlalchemy import func, select

from models.tables import Certification
from tests.support import Api, world

RECORD = """mutation($user: ID!, $module: ID!, $score: Float!) {
  recordPreAssessment(userId: $user, moduleId: $module, score: $score) {
    result { score passingScore passed } badge { literacy fluency } earned { level earnedBy } } }"""


async def _vars(api: Api, user: str = "t1", module: str = "m1", score: float = 85) -> dict:
    return {
        "user": await api.id("User", user),
        "module": await api.id("Module", module),
        "score": score,
    }


async def test_a_passing_score_earns_literacy_by_pre_assessment(api: Api) -> None:
    await api.seed(world())
    engine = api.integration("d1", "progress:write", name="assessment-engine")
    out = (await api.ok(RECORD, await _vars(api, score=80), token=engine))["recordPreAssessment"]
    assert out["result"] == {"score": 80.0, "passingScore": 80.0, "passed": True}
    assert out["earned"] == [{"level": "LITERACY", "earnedBy": "PRE_ASSESSMENT"}]
    assert out["badge"] == {"literacy": "COMPLETE", "fluency": "NOT_STARTED"}
    again = (await api.ok(RECORD, await _vars(api, score=95), token=engine))["recordPreAssessment"]
    assert again["earned"] == [] and again["badge"]["literacy"] == "COMPLETE"


async def test_a_failed_pre_assessment_alone_changes_nothing(api: Api) -> None:
    await api.seed(world())
    engine = api.integration("d1", "progress:write")
    out = (await api.ok(RECORD, await _vars(api, score=79.9), token=engine))["recordPreAssessment"]
    assert out["result"]["passed"] is False
    assert out["earned"] == []
    assert out["badge"] == {"literacy": "NOT_STARTED", "fluency": "NOT_STARTED"}


async def test_passing_after_pages_earned_literacy_earns_nothing_more(api: Api) -> None:
    await api.seed(world())
    for key in ("m1-l1", "m1-l2"):
        await api.ok(
            "mutation($p: ID!) { completePage(pageId: $p) { state } }",
            {"p": await api.id("Page", key)},
            as_user="t1",
        )
    engine = api.integration("d1", "progress:write")
    out = (await api.ok(RECORD, await _vars(api), token=engine))["recordPreAssessment"]
    assert out["earned"] == []
    async with api.db.read() as s:
        rows = (await s.execute(select(Certification.earned_by))).scalars().all()
    assert [r.value for r in rows] == ["PAGES"]


async def test_only_an_integration_with_progress_write_records_results(api: Api) -> None:
    await api.seed(world())
    v = await _vars(api)
    for who in ("t1", "plm", "um", "sm"):
        err = await api.error(RECORD, v, as_user=who)
        assert err["extensions"]["code"] == "FORBIDDEN"
    err = await api.error(RECORD, v, token=api.integration("d1", "stats:read", "roster:write"))
    assert err["extensions"]["code"] == "FORBIDDEN"
    async with api.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(Certification))).scalar_one() == 0


async def test_bad_scores_and_modules_without_pre_assessment_are_input_errors(api: Api) -> None:
    await api.seed(world())
    engine = api.integration("d1", "progress:write")
    for score in (-1, 100.5):
        err = await api.error(RECORD, await _vars(api, score=score), token=engine)
        assert (
            err["extensions"]["code"] == "BAD_USER_INPUT" and "between 0 and 100" in err["message"]
        )
    err = await api.error(RECORD, await _vars(api, module="m2"), token=engine)
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert "no pre-assessment" in err["message"]


async def test_another_districts_user_or_module_is_not_found(api: Api) -> None:
    await api.seed(world())
    engine = api.integration("d1", "progress:write")
    for user, module in (("x1", "m1"), ("t1", "m9")):
        err = await api.error(RECORD, await _vars(api, user=user, module=module), token=engine)
        assert err["extensions"]["code"] == "NOT_FOUND"
