from __future__ import annotations

import strawberry
from strawberry import relay

from resolvers import feed as feed_resolvers
from resolvers import modules as module_resolvers
from resolvers import nodes as node_resolvers
from resolvers import results as result_resolvers
from resolvers import reviews as review_resolvers
from resolvers import stats as stats_resolvers
from resolvers import users as user_resolvers
from schema.enums import Catalog, Level
from schema.feed import FeedItem, FeedItemConnection
from schema.info import Info
from schema.stats import (
    ComparisonStats,
    IndividualResult,
    IndividualResultConnection,
    IndividualResultEdge,
    ResultFilter,
    ScopeInput,
    ScopeStats,
)
from schema.types import (
    District,
    Group,
    Module,
    Page,
    Submission,
    User,
)


@strawberry.type
class SubmissionConnection(relay.Connection[Submission]):
    total_count: int


def page_info(cursors: list[str], has_next: bool, after: str | None) -> relay.PageInfo:
    """The page info of a forward-paginated connection (first/after)."""
    return relay.PageInfo(
        has_next_page=has_next,
        has_previous_page=after is not None,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


_NODE_MAPPERS = {
    "District": District.from_row,
    "School": Group.from_row,
    "Cohort": Group.from_row,
    "User": User.from_row,
    "Module": Module.from_row,
    "Page": Page.from_row,
    "Submission": Submission.from_row,
    "FeedItem": FeedItem.from_entry,
}


@strawberry.type
class Query:
    @strawberry.field(
        description="Any object by its ID. An ID of another district, or one that does not "
        "exist, is a NOT_FOUND error."
    )
    async def node(self, info: Info, id: strawberry.ID) -> relay.Node | None:
        type_name, row = await node_resolvers.node(info.context, id)
        return _NODE_MAPPERS[type_name](row)

    @strawberry.field(description="The signed-in user.")
    async def me(self, info: Info) -> User:
        return User.from_row(await user_resolvers.me(info.context))

    @strawberry.field(description="Modules the viewer's district can see.")
    async def modules(
        self, info: Info, catalog: Catalog | None = None, goals_only: bool | None = False
    ) -> list[Module]:
        rows = await module_resolvers.modules(info.context, catalog, bool(goals_only))
        return [Module.from_row(m) for m in rows]

    @strawberry.field(
        description="Pending Fluency submissions the viewer may review, oldest first."
    )
    async def review_queue(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> SubmissionConnection:
        page = await review_resolvers.review_queue(info.context, first, after)
        return SubmissionConnection(
            edges=[
                relay.Edge(node=Submission.from_row(r), cursor=c)
                for r, c in zip(page.rows, page.cursors, strict=True)
            ],
            page_info=page_info(page.cursors, page.has_next, after),
            total_count=page.total,
        )

    @strawberry.field(
        description="The viewer's dashboard: personal, district, and each school and cohort "
        "they are a member or manager of. Default: all modules at Literacy."
    )
    async def comparison_stats(
        self, info: Info, module_id: strawberry.ID | None = None, level: Level = Level.LITERACY
    ) -> ComparisonStats:
        view = await stats_resolvers.comparison_stats(info.context, module_id, level)
        return ComparisonStats.from_view(view)

    @strawberry.field(description="One scope's stats; district PL managers may read any group.")
    async def scope_stats(
        self,
        info: Info,
        scope: ScopeInput,
        module_id: strawberry.ID | None = None,
        level: Level = Level.LITERACY,
    ) -> ScopeStats:
        ref = stats_resolvers.parse_scope(scope.kind, scope.id)
        view = await stats_resolvers.scope_stats(info.context, ref, module_id, level)
        return ScopeStats.from_view(view)

    @strawberry.field(
        description="Each included member of the scope with their status, ordered by name."
    )
    async def individual_results(
        self,
        info: Info,
        scope: ScopeInput,
        module_id: strawberry.ID,
        level: Level,
        filter: list[ResultFilter] | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> IndividualResultConnection:
        ref = stats_resolvers.parse_scope(scope.kind, scope.id)
        page = await result_resolvers.individual_results(
            info.context, ref, module_id, level, filter, first, after
        )
        return IndividualResultConnection(
            edges=[
                IndividualResultEdge(
                    cursor=c,
                    node=IndividualResult(status=r.status, has_logged_in=r.has_logged_in, _row=r),
                )
                for r, c in zip(page.rows, page.cursors, strict=True)
            ],
            page_info=page_info(page.cursors, page.has_next, after),
            total_count=page.total,
        )

    @strawberry.field(
        description="The district's news feed, newest first. Items of users who do not share "
        "their certifications now are left out."
    )
    async def news_feed(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> FeedItemConnection:
        page = await feed_resolvers.news_feed(info.context, first, after)
        items = [FeedItem.from_entry(e) for e in page.entries]
        return FeedItemConnection(
            edges=[relay.Edge(node=i, cursor=i.cursor) for i in items],
            page_info=page_info([i.cursor for i in items], page.has_next, after),
        )
