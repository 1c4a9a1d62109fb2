"""Every error a client sees carries `extensions.code`, and nothing internal leaks.

Domain errors keep their message and code; parse, validation and argument errors become
BAD_USER_INPUT; anything else is logged in full here and reaches the client only as
"Internal server error." with code INTERNAL.
"""

from __future__ import annotations

import structlog
from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from models.errors import DomainError

log = structlog.get_logger("microcred.graphql")

INTERNAL_MESSAGE = "Internal server error."


def _with_code(error: GraphQLError, message: str, code: str) -> GraphQLError:
    return GraphQLError(
        message=message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={**(error.extensions or {}), "code": code},
    )


def shape_error(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, DomainError):
        return _with_code(error, original.message, original.code)
    if original is None or isinstance(original, GraphQLError):
        # Raised by graphql-core itself: syntax, validation, variable coercion, limits.
        # A bad variable value comes wrapped: its original_error is graphql-core's own
        # GraphQLError from coercion, and the outer message already says which variable.
        code = (error.extensions or {}).get("code", "BAD_USER_INPUT")
        return _with_code(error, error.message, code)
    log.error(
        "Unexpected error while resolving a GraphQL field",
        path=error.path,
        exc_info=original,
    )
    return _with_code(error, INTERNAL_MESSAGE, "INTERNAL")


class ErrorCodes(MaskErrors):
    """Reuses MaskErrors' hooks (operations, streams, subscriptions) with our shaping."""

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [shape_error(e) for e in errors]
