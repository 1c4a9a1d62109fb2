"""Errors: every one carries extensions.code, client mistakes read as BAD_USER_INPUT, and
nothing internal (SQL, tracebacks) ever reaches a client."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from strawberry.relay import GlobalID

import resolvers.modules
from tests.support import Api, world

CODES = {"UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT", "INTERNAL"}


async def raw(
    api: Api, query: str, variables: dict[str, Any] | None = None, *, user: str = "t1"
) -> httpx.Response:
    """Post and return the HTTP response, without asserting anything about it."""
    return await api.client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {api.token(user)}"},
    )


def assert_error_shape(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A GraphQL response that failed as a whole: errors with message and code, no data."""
    assert set(body) <= {"data", "errors", "extensions"}, body
    assert body.get("data") is None, body
    errors = body["errors"]
    assert isinstance(errors, list) and errors, body
    for error in errors:
        assert isinstance(error["message"], str) and error["message"], error
        assert error["extensions"]["code"] in CODES, error
    return errors


async def test_syntax_error_is_bad_user_input(api: Api) -> None:
    await api.seed(world())
    response = await raw(api, "{ me { key ")
    # GraphQL over HTTP lets a server answer a request error with 200 or 400; either way the
    # body is a GraphQL response.
    assert response.status_code in (200, 400)
    assert response.headers["content-type"].startswith("application/")
    errors = assert_error_shape(response.json())
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Syntax Error" in errors[0]["message"]
    assert errors[0]["locations"] == [{"line": 1, "column": 12}]


async def test_unknown_field_is_bad_user_input(api: Api) -> None:
    await api.seed(world())
    response = await raw(api, "{ me { key nope } }")
    assert response.status_code in (200, 400)
    errors = assert_error_shape(response.json())
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "nope" in errors[0]["message"]
    assert "User" in errors[0]["message"]


async def test_missing_required_argument_is_bad_user_input(api: Api) -> None:
    await api.seed(world())
    errors = assert_error_shape((await raw(api, "{ node { id } }")).json())
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "id" in errors[0]["message"]


async def test_wrong_enum_value_in_a_variable_is_bad_user_input(api: Api) -> None:
    await api.seed(world())
    response = await raw(api, "query($c: Catalog) { modules(catalog: $c) { key } }", {"c": "NOPE"})
    assert response.status_code in (200, 400)
    errors = assert_error_shape(response.json())
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "NOPE" in errors[0]["message"]
    assert "Catalog" in errors[0]["message"]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($c: Catalog) { modules(catalog: $c) { key } }", {"c": 5}),
        ("query($f: Int) { reviewQueue(first: $f) { totalCount } }", {"f": "ten"}),
        ("query($g: Boolean) { modules(goalsOnly: $g) { key } }", {"g": "yes"}),
        ("query($id: ID!) { node(id: $id) { id } }", {}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": None}),
    ],
)
async def test_badly_typed_variables_are_bad_user_input(
    api: Api, query: str, variables: dict[str, Any]
) -> None:
    await api.seed(world())
    errors = assert_error_shape((await raw(api, query, variables)).json())
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", errors
    assert "Variable" in errors[0]["message"]


async def test_invalid_id_string_names_the_argument(api: Api) -> None:
    await api.seed(world())
    error = await api.error('mutation { startPage(pageId: "not an id!") { state } }', as_user="t1")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "pageId" in error["message"]
    assert error["path"] == ["startPage"]


async def test_id_of_the_wrong_type_names_both_types(api: Api) -> None:
    await api.seed(world())
    user_id = await api.id("User", "t1")
    error = await api.error(
        "mutation($p: ID!) { startPage(pageId: $p) { state } }", {"p": user_id}, as_user="t1"
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "pageId" in error["message"]
    assert "Page" in error["message"] and "User" in error["message"]


async def test_id_with_a_non_numeric_key_is_bad_user_input(api: Api) -> None:
    await api.seed(world())
    error = await api.error(
        "query($id: ID!) { node(id: $id) { id } }",
        {"id": str(GlobalID("User", "abc"))},
        as_user="t1",
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == "id is not a valid ID."


async def test_first_above_100_is_bad_user_input(api: Api) -> None:
    await api.seed(world())
    error = await api.error("{ reviewQueue(first: 101) { totalCount } }", as_user="plm")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "first" in error["message"] and "100" in error["message"]
    # 100 itself is fine.
    data = await api.ok("{ reviewQueue(first: 100) { totalCount } }", as_user="plm")
    assert data["reviewQueue"]["totalCount"] == 0


async def test_negative_first_is_bad_user_input(api: Api) -> None:
    await api.seed(world())
    error = await api.error("{ reviewQueue(first: -1) { totalCount } }", as_user="plm")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_foreign_cursor_is_bad_user_input(api: Api) -> None:
    await api.seed(world())
    error = await api.error(
        '{ reviewQueue(after: "bm90IGEgY3Vyc29y") { totalCount } }', as_user="plm"
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "after" in error["message"]


async def test_unexpected_internal_error_is_masked(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api.seed(world())

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError('SELECT secret FROM x WHERE "password" = 1')

    # The server runs in this process, so the patched resolver is what it calls.
    monkeypatch.setattr(resolvers.modules, "modules", broken)
    response = await raw(api, "{ modules { key } }")
    assert response.status_code == 200
    body = response.json()
    errors = assert_error_shape(body)
    assert errors == [
        {
            "message": "Internal server error.",
            "locations": [{"line": 1, "column": 3}],
            "path": ["modules"],
            "extensions": {"code": "INTERNAL"},
        }
    ]
    for leak in ("SELECT", "secret", "password", "Traceback", "RuntimeError", ".py"):
        assert leak not in response.text


async def test_every_internal_error_of_a_response_is_masked(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api.seed(world())

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyError("users.password_hash")

    monkeypatch.setattr(resolvers.modules, "is_district_goal", broken)
    body = (await raw(api, "{ me { key } modules { key isDistrictGoal } }")).json()
    # isDistrictGoal is non-null, so each failure nulls the whole (non-null) list up to
    # `modules`, which nulls data; every error is masked all the same.
    assert body["errors"]
    for error in body["errors"]:
        assert error["message"] == "Internal server error."
        assert error["extensions"] == {"code": "INTERNAL"}
    assert "password" not in str(body)


MAX_DEPTH = 12  # the limit this service promises; deeper operations are refused


def nested(levels: int) -> str:
    """An operation `levels` fields deep: modules { pages { module { pages { ... key } } } }."""
    fields = ["modules"] + ["pages" if i % 2 == 0 else "module" for i in range(levels - 2)]
    return "{ " + "".join(f"{f} {{ " for f in fields) + "key" + " }" * len(fields) + " }"


async def test_query_depth_is_limited(api: Api) -> None:
    await api.seed(world())
    # Depth counts from 0 at the root field, so MAX_DEPTH + 1 fields are allowed.
    allowed = nested(MAX_DEPTH + 1)
    assert (await api.ok(allowed, as_user="t1"))["modules"]
    for levels in (MAX_DEPTH + 2, 40):
        response = await raw(api, nested(levels))
        errors = assert_error_shape(response.json())
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", errors
        assert f"maximum operation depth of {MAX_DEPTH}" in errors[0]["message"]


async def test_depth_limit_counts_through_fragments(api: Api) -> None:
    await api.seed(world())
    query = (
        "fragment P on Page { module { pages { module { pages { module { pages { module "
        "{ pages { module { pages { module { pages { key } } } } } } } } } } } } } "
        "{ modules { pages { ...P } } }"
    )
    error = await api.error(query, as_user="t1")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("query", "user", "code"),
    [
        ("{ me { key } }", None, "UNAUTHENTICATED"),
        ("{ me { nope } }", "t1", "BAD_USER_INPUT"),
        ("{ me { key ", "t1", "BAD_USER_INPUT"),
        ("{ me { preferences { showPersonalStats } } }", "t1", None),
        ('{ node(id: "VXNlcjo5OTk5OTk=") { id } }', "t1", "NOT_FOUND"),
        ('mutation { startPage(pageId: "x") { state } }', "t1", "BAD_USER_INPUT"),
        ("{ reviewQueue { totalCount } }", "integration", "FORBIDDEN"),
        ("subscription { nothing }", "t1", "BAD_USER_INPUT"),
    ],
)
async def test_every_error_has_a_code(
    api: Api, query: str, user: str | None, code: str | None
) -> None:
    await api.seed(world())
    if user is None:
        headers = {}
    elif user == "integration":
        headers = {"Authorization": f"Bearer {api.integration('d1', 'stats:read')}"}
    else:
        headers = {"Authorization": f"Bearer {api.token(user)}"}
    response = await api.client.post("/graphql", json={"query": query}, headers=headers)
    body = response.json()
    if code is None:
        assert "errors" not in body, body
        return
    errors = body["errors"]
    assert errors, body
    for error in errors:
        assert error["extensions"]["code"] in CODES, error
    assert errors[0]["extensions"]["code"] == code, errors


async def test_malformed_http_requests_get_a_json_error_with_a_code(api: Api) -> None:
    cases = [
        await api.client.post(
            "/graphql", content=b"{not json", headers={"Content-Type": "application/json"}
        ),
        await api.client.post("/graphql", json={"variables": {}}),
        await api.client.get(
            "/graphql",
            params={"query": "mutation { recordLogin { key } }"},
            headers={"Accept": "application/json"},
        ),
    ]
    for response in cases:
        assert 400 <= response.status_code < 500, response.text
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
        assert body["errors"][0]["message"]
