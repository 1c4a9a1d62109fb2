"""The news feed as a Relay connection, newest first."""

from __future__ import annotations

from dataclasses import dataclass

from feed import store
from feed.store import FeedEntry
from models.errors import BadInput, Forbidden
from models.rules import permissions
from resolvers.context import Context
from resolvers.pagination import check_first, decode_cursor, encode_cursor

CURSOR_KIND = "feed"


class ResyncRequired(BadInput):
    """A cursor the server can no longer serve: start again without one."""

    code = "RESYNC_REQUIRED"


def feed_cursor(entry: FeedEntry) -> str:
    return encode_cursor(CURSOR_KIND, entry.district_id, entry.seq)


def position_of(cursor: str | None, district_id: int) -> int | None:
    """The feed position a cursor names, checked against the viewer's district."""
    decoded = decode_cursor(CURSOR_KIND, cursor, 2)
    if decoded is None:
        return None
    cursor_district, seq = decoded
    if cursor_district != district_id or not isinstance(seq, int) or seq < 0:
        raise ResyncRequired(
            "This cursor is not one of your district's feed; start again without `after`."
        )
    return seq


def ensure_can_read(ctx: Context) -> int:
    viewer = ctx.require_viewer()
    if not permissions.can_read_feed(viewer):
        raise Forbidden("This integration token lacks the stats:read scope.")
    return viewer.district_id


@dataclass(frozen=True, slots=True)
class FeedPage:
    entries: list[FeedEntry]
    has_next: bool


async def news_feed(ctx: Context, first: int | None, after: str | None) -> FeedPage:
    district_id = ensure_can_read(ctx)
    size = check_first(first, 20)
    before = position_of(after, district_id)
    async with ctx.db.read() as session:
        entries = await store.newest(session, district_id, before, size + 1)
    return FeedPage(entries=entries[:size], has_next=len(entries) > size)
