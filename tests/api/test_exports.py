"""CSV exports: same permissions and numbers as the GraphQL fields, safe cells, clear errors."""

from __future__ import annotations

import csv
import io

from app.csv_safe import unescape_cell
from tests.support import Api, world

SCOPE_STATS = """query($s: ScopeInput!, $m: ID, $l: Level!) {
  scopeStats(scope: $s, moduleId: $m, level: $l) { countedUsers
    counts { notStarted inProgress complete total completePercent } } }"""
RESULTS = """query($s: ScopeInput!, $m: ID!, $f: [ResultFilter!]) {
  individualResults(scope: $s, moduleId: $m, level: LITERACY, filter: $f, first: 100) {
    edges { node { user { key name } status hasLoggedIn } } } }"""


def _parse(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


async def _progress(api: Api) -> None:
    done = "mutation($p: ID!) { completePage(pageId: $p) { state } }"
    await api.ok(done, {"p": await api.id("Page", "m2-l1")}, as_user="t1")
    await api.ok(done, {"p": await api.id("Page", "m1-l1")}, as_user="t2")


async def _get(api: Api, path: str, params: dict, user: str | None = "plm"):
    headers = {"Authorization": f"Bearer {api.token(user)}"} if user else {}
    return await api.client.get(path, params=params, headers=headers)


async def test_stats_csv_has_the_graphql_numbers_per_module_and_on_average(api: Api) -> None:
    await api.seed(world())
    await _progress(api)
    school = await api.id("School", "s1")
    response = await _get(
        api, "/export/stats.csv", {"scope": f"school:{school}", "level": "LITERACY"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert "stats-school-lincoln-elementary-all-modules-literacy-" in disposition
    rows = _parse(response.text)
    assert [r["module_key"] for r in rows] == ["m1", "m2", "m3", "ALL"]
    for row in rows:
        module = None if row["module_key"] == "ALL" else await api.id("Module", row["module_key"])
        graphql = (
            await api.ok(
                SCOPE_STATS,
                {"s": {"kind": "SCHOOL", "id": school}, "m": module, "l": "LITERACY"},
                as_user="plm",
            )
        )["scopeStats"]
        counts = graphql["counts"]
        assert (row["not_started"], row["in_progress"], row["complete"], row["total"]) == (
            str(counts["notStarted"]),
            str(counts["inProgress"]),
            str(counts["complete"]),
            str(counts["total"]),
        )
        assert float(row["complete_percent"]) == counts["completePercent"]
        assert row["counted_users"] == str(graphql["countedUsers"])


async def test_stats_csv_for_one_module(api: Api) -> None:
    await api.seed(world())
    await _progress(api)
    m2 = await api.id("Module", "m2")
    response = await _get(
        api, "/export/stats.csv", {"scope": "district", "level": "LITERACY", "module": m2}
    )
    rows = _parse(response.text)
    assert len(rows) == 1
    assert rows[0]["module_key"] == "m2" and rows[0]["complete"] == "1"
    assert "-m2-literacy-" in response.headers["content-disposition"]


async def test_individual_results_csv_has_the_connection_rows(api: Api) -> None:
    await api.seed(world())
    await _progress(api)
    m2 = await api.id("Module", "m2")
    for filters in (None, ["COMPLETE"], ["NOT_LOGGED_IN"], ["NOT_STARTED", "COMPLETE"]):
        params = {"scope": "district", "level": "LITERACY", "module": m2}
        if filters:
            params["status"] = ",".join(filters)
        response = await _get(api, "/export/individual-results.csv", params)
        assert response.status_code == 200, response.text
        rows = _parse(response.text)
        graphql = (
            await api.ok(RESULTS, {"s": {"kind": "DISTRICT"}, "m": m2, "f": filters}, as_user="plm")
        )["individualResults"]["edges"]
        assert [(r["user_key"], r["status"], r["has_logged_in"]) for r in rows] == [
            (e["node"]["user"]["key"], e["node"]["status"], str(e["node"]["hasLoggedIn"]).lower())
            for e in graphql
        ]


async def test_exports_refuse_what_graphql_refuses(api: Api) -> None:
    await api.seed(world())
    m2 = await api.id("Module", "m2")
    s1, s2 = await api.id("School", "s1"), await api.id("School", "s2")
    results = "/export/individual-results.csv"
    district = {"scope": "district", "level": "LITERACY", "module": m2}
    assert (await _get(api, results, district, user=None)).status_code == 401
    bad_token = await api.client.get(
        results, params=district, headers={"Authorization": "Bearer x"}
    )
    assert bad_token.status_code == 401
    assert bad_token.json()["error"]["code"] == "UNAUTHENTICATED"
    for user in ("t1", "um", "sm"):
        assert (await _get(api, results, district, user=user)).status_code == 403
    own = {"scope": f"school:{s1}", "level": "LITERACY", "module": m2}
    assert (await _get(api, results, own, user="sm")).status_code == 200
    other = {**own, "scope": f"school:{s2}"}
    assert (await _get(api, results, other, user="sm")).status_code == 403
    stats_other = {"scope": f"school:{s2}", "level": "LITERACY"}
    assert (await _get(api, "/export/stats.csv", stats_other, user="t1")).status_code == 403
    foreign = {"scope": f"school:{await api.id('School', 's9')}", "level": "LITERACY"}
    assert (await _get(api, "/export/stats.csv", foreign)).status_code == 404


async def test_bad_parameters_are_400_with_a_message_that_says_what_was_wrong(api: Api) -> None:
    await api.seed(world())
    m2 = await api.id("Module", "m2")
    cases = [
        ({"level": "LITERACY"}, "scope parameter is required"),
        ({"scope": "galaxy", "level": "LITERACY"}, "scope must be district"),
        ({"scope": "school", "level": "LITERACY"}, "scope.id is required"),
        ({"scope": "district", "level": "EXPERT"}, "level must be LITERACY or FLUENCY"),
        ({"scope": "district", "level": "FLUENCY", "module": m2}, "no Fluency level"),
        ({"scope": "district", "level": "LITERACY", "module": "nope"}, "moduleId is not a valid"),
        (
            {"scope": "district", "level": "LITERACY", "module": m2, "status": "MAYBE"},
            "status must be one or more of",
        ),
    ]
    for params, message in cases:
        path = "/export/individual-results.csv" if "status" in params else "/export/stats.csv"
        response = await _get(api, path, params)
        assert response.status_code == 400, (params, response.text)
        body = response.json()["error"]
        assert body["code"] == "BAD_USER_INPUT" and message in body["message"], body


async def test_hostile_names_cannot_start_a_formula_and_stay_readable(api: Api) -> None:
    data = world()
    hostile = {"t1": '=HYPERLINK("http://x")', "t2": '+1-555, "Tom"', "t3": "@Tess\nHill"}
    for user in data["users"]:
        if user["key"] in hostile:
            user["name"] = hostile[user["key"]]
    await api.seed(data)
    m2 = await api.id("Module", "m2")
    response = await _get(
        api,
        "/export/individual-results.csv",
        {"scope": "district", "level": "LITERACY", "module": m2},
    )
    rows = _parse(response.text)
    names = {r["user_key"]: r["name"] for r in rows}
    for key, name in hostile.items():
        assert names[key][0] not in "=+-@\t\r\n"
        assert unescape_cell(names[key]) == name
