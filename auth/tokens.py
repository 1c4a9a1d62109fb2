"""Signed access tokens (HS256 JWTs) exactly as API.md describes them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from models.enums import IntegrationScope

ALGORITHM = "HS256"
INTEGRATION_PREFIX = "integration:"
DEFAULT_INTEGRATION_TTL = 90 * 24 * 3600


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired, or not one of ours."""


@dataclass(frozen=True, slots=True)
class UserClaims:
    user_key: str


@dataclass(frozen=True, slots=True)
class IntegrationClaims:
    name: str
    district_key: str
    scopes: frozenset[IntegrationScope]


Claims = UserClaims | IntegrationClaims


def _exp(ttl_seconds: int) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=ttl_seconds)


def mint_user_token(secret: str, user_key: str, ttl_seconds: int) -> str:
    return jwt.encode({"sub": user_key, "exp": _exp(ttl_seconds)}, secret, algorithm=ALGORITHM)


def mint_integration_token(
    secret: str,
    name: str,
    district_key: str,
    scopes: Iterable[IntegrationScope | str],
    ttl_seconds: int = DEFAULT_INTEGRATION_TTL,
) -> str:
    scope_values = sorted({IntegrationScope(s).value for s in scopes})
    claims = {
        "sub": f"{INTEGRATION_PREFIX}{name}",
        "district": district_key,
        "scopes": scope_values,
        "exp": _exp(ttl_seconds),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(secret: str, token: str) -> Claims:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("The access token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("The access token is not valid.") from exc
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub:
        raise InvalidToken("The access token is not valid.")
    if not sub.startswith(INTEGRATION_PREFIX):
        return UserClaims(user_key=sub)
    district = claims.get("district")
    scopes = claims.get("scopes")
    if not isinstance(district, str) or not isinstance(scopes, list):
        raise InvalidToken("An integration token needs a district and a list of scopes.")
    try:
        parsed = frozenset(IntegrationScope(s) for s in scopes)
    except ValueError as exc:
        raise InvalidToken("The integration token names an unknown scope.") from exc
    return IntegrationClaims(
        name=sub.removeprefix(INTEGRATION_PREFIX), district_key=district, scopes=parsed
    )


def bearer_token(header_value: str | None) -> str | None:
    """The token of an `Authorization: Bearer <JWT>` value, or None when there is none."""
    if not header_value:
        return None
    scheme, _, token = header_value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken('The Authorization header must read "Bearer <token>".')
    return token.strip()
