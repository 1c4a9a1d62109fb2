"""The GraphQL schema: types, root Query/Mutation, and the extensions every request runs."""

from __future__ import annotations

import strawberry
from strawberry.extensions import QueryDepthLimiter, ValidationCache
from strawberry.schema.config import StrawberryConfig

from schema.errors import ErrorCodes
from schema.feed import Subscription
from schema.mutation import Mutation
from schema.query import Query
from schema.types import Cohort, District, School

MAX_QUERY_DEPTH = 12


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
        # Dashboards send the same few documents over and over: validate each once. (Not
        # ParserCache: it raises syntax errors from its hook, past ErrorCodes' shaping.)
        lambda: ValidationCache(maxsize=512),
        lambda: QueryDepthLimiter(max_depth=MAX_QUERY_DEPTH),
    ],
    config=StrawberryConfig(auto_camel_case=True),
)


def sdl() -> str:
    return schema.as_str() + "\n"
