"""`node(id)`: any object by its global ID, within the viewer's district."""

from __future__ import annotations

from typing import Any

from feed import store
from models.enums import GroupKind
from models.errors import NotFound
from resolvers.context import Context
from resolvers.feed import ensure_can_read
from resolvers.ids import decode_id
from resolvers.users import ensure_can_view_progress

NODE_TYPES = (
    "District",
    "School",
    "Cohort",
    "User",
    "Module",
    "Page",
    "Submission",
    "FeedItem",
)


async def node(ctx: Context, global_id: str) -> tuple[str, Any]:
    """The type name and row. Another district's ID reads exactly like a missing one."""
    viewer = ctx.require_viewer()
    type_name, pk = decode_id(global_id, *NODE_TYPES)
    loaders = ctx.loaders
    row: Any
    match type_name:
        case "District":
            row = await loaders.district_by_id.load(pk)
        case "School" | "Cohort":
            row = await loaders.group_by_id.load(pk)
            if row is not None and row.kind is not GroupKind(type_name.upper()):
                row = None
        case "User":
            row = await loaders.user_by_id.load(pk)
        case "Module":
            row = await loaders.module_by_id.load(pk)
        case "Page":
            row = await loaders.page_by_id.load(pk)
        case "FeedItem":
            ensure_can_read(ctx)
            async with ctx.db.read() as session:
                row = await store.entry_by_id(session, viewer.district_id, pk)
        case "Submission":
            row = await loaders.submission_by_id.load(pk)
            if row is not None:
                learner = await loaders.user_by_id.load(row.user_id)
                assert learner is not None
                await ensure_can_view_progress(ctx, learner)
    if row is None or getattr(row, "district_id", viewer.district_id) not in (
        viewer.district_id,
        None,
    ):
        raise NotFound(f"No {type_name.lower()} with that ID exists.")
    return type_name, row
