"""Shared helpers for the Comparison Stats, Individual User Results and stats-inclusion tests.

All progress is made through the public API: learners complete and start pages themselves,
pre-assessment results come from an integration, logins through recordLogin and inclusion
changes through setStatsInclusion.

`seed_progress` builds the scenario most tests read. In d1, with `world()`:

    counted (included, logged in): plm um sm cm t1 t2        (district population 6)
    not counted: adm (DCF, DEFAULT), t3 (never logged in)
    s1 population: t1 (sm is its MANAGER, t3 never logged in) ; s2: t2 ; c1: t1

    LITERACY  m1: t1 COMPLETE (pages), cm COMPLETE (pre-assessment 90), t2 IN_PROGRESS,
                  sm failed the pre-assessment (50: stays NOT_STARTED),
                  adm COMPLETE and t3 IN_PROGRESS but neither counts
              m2: t2 COMPLETE            m3: t1 IN_PROGRESS
    FLUENCY   m1: t1 IN_PROGRESS         m3: t2 IN_PROGRESS (a review page, SUBMITTED)
"""

from __future__ import annotations

from typing import Any

from tests.support import Api, world

COUNTS = "notStarted inProgress complete total notStartedPercent inProgressPercent completePercent"
SCOPE_FIELDS = f"""scope {{ kind id name canViewIndividualResults }} countedUsers moduleCount
  counts {{ {COUNTS} }}"""
COMPARISON = f"""query($m: ID, $l: Level!) {{ comparisonStats(moduleId: $m, level: $l) {{
  level module {{ key }} statsExcluded personal {{ {COUNTS} }}
  district {{ {SCOPE_FIELDS} }} schools {{ {SCOPE_FIELDS} }} cohorts {{ {SCOPE_FIELDS} }} }} }}"""
COMPARISON_DEFAULTS = f"""{{ comparisonStats {{ level module {{ key }} personal {{ {COUNTS} }}
  district {{ {SCOPE_FIELDS} }} schools {{ {SCOPE_FIELDS} }} cohorts {{ {SCOPE_FIELDS} }} }} }}"""
SCOPE_STATS = f"""query($s: ScopeInput!, $m: ID, $l: Level!) {{
  scopeStats(scope: $s, moduleId: $m, level: $l) {{ {SCOPE_FIELDS} }} }}"""
RESULTS = """query($s: ScopeInput!, $m: ID!, $l: Level!, $f: [ResultFilter!], $first: Int,
  $after: String) {
  individualResults(scope: $s, moduleId: $m, level: $l, filter: $f, first: $first,
    after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { status hasLoggedIn user { id key name } } } } }"""
SET_INCLUSION = """mutation($u: ID!, $i: StatsInclusion!, $r: String) {
  setStatsInclusion(userId: $u, inclusion: $i, reason: $r) {
    key statsInclusion statsExcluded } }"""
USER_FLAGS = """query($u: ID!) { node(id: $u) { ... on User { key statsInclusion statsExcluded
  statsInclusionHistory { fromInclusion toInclusion changedBy reason changedAt } } } }"""

# Counted users of d1 in `world()`, and the included ones (the counted plus t3).
COUNTED_D1 = {"plm", "um", "sm", "cm", "t1", "t2"}
INCLUDED_D1 = COUNTED_D1 | {"t3"}


def tally(counts: dict[str, Any]) -> tuple[int, int, int, int]:
    """(notStarted, inProgress, complete, total) of a StatusCounts."""
    return (counts["notStarted"], counts["inProgress"], counts["complete"], counts["total"])


def percents(counts: dict[str, Any]) -> tuple[float, float, float]:
    return (counts["notStartedPercent"], counts["inProgressPercent"], counts["completePercent"])


def by_key(views: list[dict[str, Any]], key_to_id: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Scope views keyed by the group key (key_to_id maps a key to its global ID)."""
    ids = {v: k for k, v in key_to_id.items()}
    return {ids[v["scope"]["id"]]: v for v in views}


async def complete(api: Api, user: str, *pages: str) -> None:
    for page in pages:
        await api.ok(
            "mutation($p: ID!) { completePage(pageId: $p) { state } }",
            {"p": await api.id("Page", page)},
            as_user=user,
        )


async def start(api: Api, user: str, *pages: str) -> None:
    for page in pages:
        await api.ok(
            "mutation($p: ID!) { startPage(pageId: $p) { state } }",
            {"p": await api.id("Page", page)},
            as_user=user,
        )


async def pre_assessment(api: Api, user: str, module: str, score: float) -> bool:
    data = await api.ok(
        """mutation($u: ID!, $m: ID!, $s: Float!) {
             recordPreAssessment(userId: $u, moduleId: $m, score: $s) { result { passed } } }""",
        {"u": await api.id("User", user), "m": await api.id("Module", module), "s": score},
        token=api.integration("d1", "progress:write", name="assessment-engine"),
    )
    return bool(data["recordPreAssessment"]["result"]["passed"])


async def login(api: Api, user: str) -> dict[str, Any]:
    data = await api.ok("mutation { recordLogin { key hasLoggedIn } }", as_user=user)
    return dict(data["recordLogin"])


async def set_inclusion(
    api: Api,
    user: str,
    inclusion: str,
    *,
    as_user: str | None = "plm",
    token: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    variables = {"u": await api.id("User", user), "i": inclusion, "r": reason}
    data = await api.ok(SET_INCLUSION, variables, as_user=None if token else as_user, token=token)
    return dict(data["setStatsInclusion"])


async def dashboard(
    api: Api, user: str, module: str | None = None, level: str = "LITERACY"
) -> dict[str, Any]:
    variables = {"m": await api.id("Module", module) if module else None, "l": level}
    return dict((await api.ok(COMPARISON, variables, as_user=user))["comparisonStats"])


async def scope_input(api: Api, kind: str, key: str | None = None) -> dict[str, Any]:
    if kind == "DISTRICT":
        return {"kind": "DISTRICT"}
    return {"kind": kind, "id": await api.id(kind.title(), key or "")}


async def scope_vars(
    api: Api, kind: str, key: str | None, module: str | None, level: str
) -> dict[str, Any]:
    return {
        "s": await scope_input(api, kind, key),
        "m": await api.id("Module", module) if module else None,
        "l": level,
    }


async def scope_stats(
    api: Api,
    kind: str,
    key: str | None = None,
    *,
    module: str | None = None,
    level: str = "LITERACY",
    as_user: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    variables = await scope_vars(api, kind, key, module, level)
    return dict((await api.ok(SCOPE_STATS, variables, as_user=as_user, token=token))["scopeStats"])


async def results_vars(
    api: Api,
    kind: str,
    key: str | None,
    module: str = "m1",
    level: str = "LITERACY",
    *,
    filters: list[str] | None = None,
    first: int | None = None,
    after: str | None = None,
) -> dict[str, Any]:
    variables = await scope_vars(api, kind, key, module, level)
    variables.update({"f": filters, "after": after})
    if first is not None:
        variables["first"] = first
    return variables


async def results(
    api: Api,
    kind: str,
    key: str | None = None,
    module: str = "m1",
    level: str = "LITERACY",
    *,
    filters: list[str] | None = None,
    first: int | None = None,
    after: str | None = None,
    as_user: str | None = "plm",
    token: str | None = None,
) -> dict[str, Any]:
    variables = await results_vars(
        api, kind, key, module, level, filters=filters, first=first, after=after
    )
    data = await api.ok(RESULTS, variables, as_user=None if token else as_user, token=token)
    return dict(data["individualResults"])


def rows(connection: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(user key, status, hasLoggedIn) of each edge, in order."""
    return [
        (e["node"]["user"]["key"], e["node"]["status"], e["node"]["hasLoggedIn"])
        for e in connection["edges"]
    ]


def keys(connection: dict[str, Any]) -> list[str]:
    return [e["node"]["user"]["key"] for e in connection["edges"]]


async def seed_progress(api: Api, data: dict[str, Any] | None = None) -> None:
    """Seed `world()` (or `data`) and make the progress described in the module docstring."""
    await api.seed(data or world())
    await complete(api, "t1", "m1-l1", "m1-l2")
    await start(api, "t2", "m1-l1")
    assert await pre_assessment(api, "cm", "m1", 90)
    assert not await pre_assessment(api, "sm", "m1", 50)
    await complete(api, "adm", "m1-l1", "m1-l2")
    await complete(api, "t3", "m1-l1")
    await complete(api, "t2", "m2-l1")
    await start(api, "t1", "m3-l1")
    await complete(api, "t1", "m1-f1")
    await complete(api, "t2", "m3-f1")
