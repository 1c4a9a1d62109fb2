"""The control-count pattern: the number of SQL statements of a query does not grow with the
number of modules, because every relationship is loaded by a batched loader."""

from __future__ import annotations

from tests.support import Api, counting_statements, world

DASHBOARD = """{ me { badges { module { pages { id } } }
  certifications { module { key } } } }"""


def _with_modules(n: int) -> dict:
    data = world()
    data["modules"] += [
        {
            "key": f"extra-{i}",
            "title": f"Extra module {i}",
            "catalog": "MODERN_TEACHER" if i % 2 else "DISTRICT",
            "district": None if i % 2 else "d1",
            "pages": [
                {"key": f"extra-{i}-l1", "level": "LITERACY", "title": "Read"},
                {"key": f"extra-{i}-f1", "level": "FLUENCY", "title": "Apply"},
            ],
        }
        for i in range(n)
    ]
    return data


async def _statements_for(api: Api, modules: int) -> tuple[int, int]:
    await api.seed(_with_modules(modules))
    token = api.token("t1")
    # Earn a certification on every module so the certifications list grows too.
    tool = api.integration("d1", "progress:write")
    t1 = await api.id("User", "t1")
    for i in range(modules):
        await api.ok(
            "mutation($p: ID!, $u: ID) { completePage(pageId: $p, userId: $u) { state } }",
            {"p": await api.id("Page", f"extra-{i}-l1"), "u": t1},
            token=tool,
        )
    with counting_statements(api) as statements:
        data = await api.ok(DASHBOARD, token=token)
    assert len(data["me"]["certifications"]) == modules
    return len(data["me"]["badges"]), len(statements)


async def test_dashboard_statement_count_does_not_grow_with_modules(api: Api) -> None:
    small_badges, small = await _statements_for(api, 5)
    large_badges, large = await _statements_for(api, 40)
    assert (small_badges, large_badges) == (3 + 5, 3 + 40)
    assert small == large, f"{small} statements with 5 modules, {large} with 40"
    assert large <= 8
