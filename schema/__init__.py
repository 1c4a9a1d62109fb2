"""The GraphQL schema: types, root Query/Mutation, and the extensions every request runs."""

from __future__ import annotations

import strawberry
from strawberry.extensions import AddValidationRules, ValidationCache
from strawberry.extensions.query_depth_limiter import create_validator
from strawberry.schema.config import StrawberryConfig

from schema.caching import MAX_CACHED_DOCUMENTS, ParseOnce
from schema.errors import ErrorCodes
from schema.feed import Subscription
from schema.mutation import Mutation
from schema.query import Query
from schema.types import Cohort, District, School

MAX_QUERY_DEPTH = 12
# Built once: ValidationCache keys on the rules too, and QueryDepthLimiter made per request
# would create a new rule class every time, so nothing would ever be found in the cache.
DEPTH_RULE = create_validator(MAX_QUERY_DEPTH, None, None)


class MicrocredSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:  # type: ignore[override]
        # ErrorCodes logs what is unexpected; client mistakes are not server errors.
        return None


schema = MicrocredSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    # Reachable only through `node(id:)`, so listed here to be part of the schema.
    types=[District, School, Cohort],
    extensions=[
        # First, so that it shapes the errors of everything after it.
        ErrorCodes,
        # Dashboards send the same few documents over and over: parse and validate each once.
        ParseOnce,
        lambda: ValidationCache(maxsize=MAX_CACHED_DOCUMENTS),
        lambda: AddValidationRules([DEPTH_RULE]),
    ],
    config=StrawberryConfig(auto_camel_case=True),
)


def sdl() -> str:
    return schema.as_str() + "\n"
