"""Opaque keyset cursors and the `first` bound shared by every connection."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from models.errors import BadInput

MAX_PAGE_SIZE = 100


def check_first(first: int | None, default: int) -> int:
    size = default if first is None else first
    if size < 0 or size > MAX_PAGE_SIZE:
        raise BadInput(f"first must be between 0 and {MAX_PAGE_SIZE}, got {size}.")
    return size


def encode_cursor(kind: str, *values: Any) -> str:
    raw = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _is(value: Any, type_: type) -> bool:
    return isinstance(value, type_) and not (type_ is int and isinstance(value, bool))


def decode_cursor(
    kind: str, cursor: str | None, arity: int, types: tuple[type, ...] | None = None
) -> list[Any] | None:
    """The values of a cursor of `kind`; with `types`, each value must be of its type (a
    forged cursor is an input error, never a crash)."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        data = None
    if (
        not isinstance(data, list)
        or len(data) != arity + 1
        or data[0] != kind
        or (types is not None and not all(map(_is, data[1:], types)))
    ):
        raise BadInput("after is not a cursor of this list; pass an endCursor it returned.")
    return data[1:]
