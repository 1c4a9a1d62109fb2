"""`node(id:)`: Relay object identification within the viewer's district."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.relay import GlobalID

from resolvers.ids import encode_id
from tests.support import Api, world

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename
    id
    ... on District { key name }
    ... on Group { key name }
    ... on User { key name }
    ... on Module { key title }
    ... on Page { key title }
    ... on Submission { key }
  }
}
"""


@pytest.mark.parametrize(
    ("type_name", "key", "label"),
    [
        ("District", "d1", "Springfield"),
        ("School", "s1", "Lincoln Elementary"),
        ("Cohort", "c1", "New Teachers 2026"),
        ("User", "t2", "Tom Gray"),
        ("Module", "m1", "Blended Learning 101"),  # vendor catalog
        ("Module", "m3", "Springfield Literacy Goals"),  # the district's own
        ("Page", "m1-f2", "Teach it"),
    ],
)
async def test_node_returns_each_type_of_the_viewers_district(
    api: Api, type_name: str, key: str, label: str
) -> None:
    await api.seed(world())
    gid = await api.id(type_name, key)
    node = (await api.ok(NODE, {"id": gid}, as_user="t1"))["node"]
    assert node["__typename"] == type_name
    assert node["id"] == gid
    assert node["key"] == key
    assert node.get("name", node.get("title")) == label
    # The returned id fetches the same object again.
    again = (await api.ok(NODE, {"id": node["id"]}, as_user="plm"))["node"]
    assert again == node


async def test_node_returns_a_submission_to_its_learner(api: Api) -> None:
    await api.seed(world())
    page = await api.id("Page", "m1-f2")
    await api.ok(
        "mutation($p: ID!) { completePage(pageId: $p) { state } }", {"p": page}, as_user="t1"
    )
    gid = await api.submission_id("t1", "m1-f2")
    node = (await api.ok(NODE, {"id": gid}, as_user="t1"))["node"]
    assert node["__typename"] == "Submission"
    assert node["id"] == gid
    assert node["key"]


async def test_ids_are_opaque_and_distinct_per_type(api: Api) -> None:
    await api.seed(world())
    ids = [
        await api.id("District", "d1"),
        await api.id("School", "s1"),
        await api.id("Cohort", "c1"),
        await api.id("User", "t1"),
        await api.id("Module", "m1"),
        await api.id("Page", "m1-l1"),
    ]
    assert len(set(ids)) == len(ids)
    for gid in ids:
        assert ":" not in gid  # not "Type:pk" in the clear


async def test_a_school_id_read_as_a_cohort_is_not_found(api: Api) -> None:
    await api.seed(world())
    school = (await api.ok(NODE, {"id": await api.id("School", "s1")}, as_user="t1"))["node"]
    pk = int(GlobalID.from_id(school["id"]).node_id)
    error = await api.error(NODE, {"id": encode_id("Cohort", pk)}, as_user="t1")
    assert error["extensions"]["code"] == "NOT_FOUND"


async def not_found_message(api: Api, gid: str, as_user: str = "t1") -> str:
    body = await api.post(NODE, {"id": gid}, token=api.token(as_user))
    assert body["data"] == {"node": None} or body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "NOT_FOUND"}, error
    assert error["path"] == ["node"]
    return error["message"]


@pytest.mark.parametrize(
    ("type_name", "foreign_key"),
    [("User", "x1"), ("School", "s9"), ("Module", "m9"), ("Page", "m9-l1"), ("District", "d2")],
)
async def test_another_districts_id_reads_exactly_like_a_missing_one(
    api: Api, type_name: str, foreign_key: str
) -> None:
    await api.seed(world())
    foreign = await not_found_message(api, await api.id(type_name, foreign_key))
    missing = await not_found_message(api, encode_id(type_name, 999999))
    assert foreign == missing
    assert type_name.lower() in foreign


async def test_another_districts_ids_are_not_found_for_a_pl_manager_either(api: Api) -> None:
    await api.seed(world())
    for type_name, key in (("User", "t1"), ("School", "s1"), ("Module", "m3")):
        foreign = await not_found_message(api, await api.id(type_name, key), as_user="x1")
        missing = await not_found_message(api, encode_id(type_name, 999999), as_user="x1")
        assert foreign == missing


async def test_vendor_modules_are_visible_from_both_districts(api: Api) -> None:
    await api.seed(world())
    for module in ("m1", "m2"):
        gid = await api.id("Module", module)
        for user in ("t1", "x1"):
            node = (await api.ok(NODE, {"id": gid}, as_user=user))["node"]
            assert node["key"] == module
    page = await api.id("Page", "m1-l1")
    assert (await api.ok(NODE, {"id": page}, as_user="x1"))["node"]["key"] == "m1-l1"


async def test_node_needs_a_viewer(api: Api) -> None:
    await api.seed(world())
    error = await api.error(NODE, {"id": await api.id("User", "t1")})
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_node_of_an_unsupported_type_is_bad_user_input(api: Api) -> None:
    await api.seed(world())
    error = await api.error(NODE, {"id": encode_id("Certification", 1)}, as_user="t1")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


INTROSPECT = """
{
  __schema {
    types {
      kind name
      interfaces { name }
      fields { name type { kind name ofType { kind name } } }
    }
  }
}
"""


def _is_non_null(type_ref: dict[str, Any], name: str) -> bool:
    of = type_ref.get("ofType") or {}
    return type_ref["kind"] == "NON_NULL" and of.get("kind") == "SCALAR" and of["name"] == name


async def test_every_node_type_exposes_a_non_null_key_and_id(api: Api) -> None:
    types = (await api.ok(INTROSPECT))["__schema"]["types"]
    nodes = [t for t in types if any(i["name"] == "Node" for i in t.get("interfaces") or [])]
    names = {t["name"] for t in nodes}
    # Every object type with an ID the contract names is a Node.
    assert {"District", "School", "Cohort", "User", "Module", "Page", "Submission"} <= names
    for node_type in nodes:
        fields = {f["name"]: f["type"] for f in node_type["fields"]}
        assert "key" in fields, f"{node_type['name']} has no key"
        assert _is_non_null(fields["key"], "String"), (node_type["name"], fields["key"])
        assert _is_non_null(fields["id"], "ID"), (node_type["name"], fields["id"])
    # And no object type carries an `id: ID!` without being a Node, except a value whose id is
    # a reference: a stats Scope's id is the ID of its District, School or Cohort (API.md's
    # `scope { kind id name canViewIndividualResults }`), which `node(id:)` resolves.
    references = {"Scope"}
    for t in types:
        if t["kind"] != "OBJECT" or t["name"].startswith("__") or t["name"] in names | references:
            continue
        fields = {f["name"]: f["type"] for f in t["fields"] or []}
        if "id" in fields and _is_non_null(fields["id"], "ID"):
            pytest.fail(f"{t['name']} has an ID but does not implement Node")
