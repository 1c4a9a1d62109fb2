"""Exactly once under concurrency: racing requests earn one certification, one feed item and
one status change, on SQLite and PostgreSQL, through real concurrent HTTP requests."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from models.enums import CertificationStatus, Level
from models.tables import Certification, FeedItem, ModuleStatus
from tests.support import Api, world

COMPLETE = """mutation($p: ID!, $u: ID) { completePage(pageId: $p, userId: $u) {
  state earned { level earnedBy } } }"""
RACERS = 24


def _wide_world() -> dict:
    data = world()
    data["modules"].append(
        {
            "key": "wide",
            "title": "Many Pages",
            "catalog": "MODERN_TEACHER",
            "preAssessmentPassingScore": 70,
            "pages": [
                {"key": f"wide-l{i}", "level": "LITERACY", "title": f"Page {i}"}
                for i in range(RACERS)
            ],
        }
    )
    return data


async def _counts(api: Api) -> tuple[int, int, list[CertificationStatus]]:
    async with api.db.read() as s:
        certs = (await s.execute(select(func.count()).select_from(Certification))).scalar_one()
        items = (await s.execute(select(func.count()).select_from(FeedItem))).scalar_one()
        statuses = list(
            (
                await s.execute(
                    select(ModuleStatus.status).where(ModuleStatus.level == Level.LITERACY)
                )
            ).scalars()
        )
    return certs, items, statuses


async def test_racing_completions_of_the_last_pages_earn_exactly_once(api: Api) -> None:
    """Each request completes a different page; only together are they all complete. Without
    serialization per learner, each would see only its own page and nobody would earn."""
    await api.seed(_wide_world())
    token = api.token("t1")
    pages = [await api.id("Page", f"wide-l{i}") for i in range(RACERS)]
    results = await asyncio.gather(*(api.ok(COMPLETE, {"p": p}, token=token) for p in pages))
    earned = [r["completePage"]["earned"] for r in results if r["completePage"]["earned"]]
    assert earned == [[{"level": "LITERACY", "earnedBy": "PAGES"}]]
    assert await _counts(api) == (1, 1, [CertificationStatus.COMPLETE])


async def test_racing_identical_requests_and_a_pre_assessment_earn_exactly_once(api: Api) -> None:
    await api.seed(_wide_world())
    token = api.token("t1")
    pages = [await api.id("Page", f"wide-l{i}") for i in range(RACERS)]
    # All pages but the last are done; then the last page and a pass race each other.
    await asyncio.gather(*(api.ok(COMPLETE, {"p": p}, token=token) for p in pages[:-1]))
    engine = api.integration("d1", "progress:write")
    record = """mutation($u: ID!, $m: ID!) { recordPreAssessment(userId: $u, moduleId: $m,
      score: 90) { earned { level earnedBy } } }"""
    user, module = await api.id("User", "t1"), await api.id("Module", "wide")
    calls = [api.ok(COMPLETE, {"p": pages[-1]}, token=token) for _ in range(RACERS // 2)]
    calls += [api.ok(record, {"u": user, "m": module}, token=engine) for _ in range(RACERS // 2)]
    results = await asyncio.gather(*calls)
    earned = [e for r in results for e in next(iter(r.values()))["earned"]]
    assert len(earned) == 1 and earned[0]["level"] == "LITERACY"
    assert await _counts(api) == (1, 1, [CertificationStatus.COMPLETE])


async def test_racing_learners_each_earn_their_own(api: Api) -> None:
    await api.seed(world())
    page = await api.id("Page", "m2-l1")
    tool = api.integration("d1", "progress:write")
    users = [await api.id("User", k) for k in ("t1", "t2", "t3", "sm", "cm")]
    calls = [api.ok(COMPLETE, {"p": page, "u": u}, token=tool) for u in users for _ in range(4)]
    results = await asyncio.gather(*calls)
    assert sum(len(r["completePage"]["earned"]) for r in results) == len(users)
    certs, items, statuses = await _counts(api)
    assert (certs, items, len(statuses)) == (len(users), len(users), len(users))
