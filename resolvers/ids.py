"""Opaque global IDs: base64 of "TypeName:pk", as Relay and Strawberry's Node encode them."""

from __future__ import annotations

from strawberry.relay import GlobalID

from models.errors import BadInput


def decode_id(value: str, *expected: str, arg: str = "id") -> tuple[str, int]:
    """The type name and primary key behind a global ID of one of the expected types."""
    try:
        gid = GlobalID.from_id(value)
        pk = int(gid.node_id)
    except Exception as exc:  # any malformed input reads the same to the client
        raise BadInput(f"{arg} is not a valid ID.") from exc
    if expected and gid.type_name not in expected:
        names = " or ".join(expected)
        raise BadInput(f"{arg} must be the ID of a {names}, got the ID of a {gid.type_name}.")
    return gid.type_name, pk


def decode_pk(value: str, expected: str, arg: str) -> int:
    return decode_id(value, expected, arg=arg)[1]


def encode_id(type_name: str, pk: int) -> str:
    return str(GlobalID(type_name, str(pk)))
