"""Parse each distinct query text once, so validation is cached too.

Strawberry's ValidationCache keys on the parsed document, which only repeats when parsing is
cached. Strawberry's own ParserCache raises syntax errors from inside its hook, past the error
shaping every client relies on; here a query that does not parse is left to Strawberry's
normal parse step, which reports the error the usual way.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension

MAX_CACHED_DOCUMENTS = 512


@lru_cache(maxsize=MAX_CACHED_DOCUMENTS)
def _parse(query: str) -> DocumentNode:
    return parse(query)


class ParseOnce(SchemaExtension):
    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query and not context.parse_options:
            try:
                context.graphql_document = _parse(context.query)
            except GraphQLError:
                pass  # Strawberry parses it again and reports the error properly
        yield
