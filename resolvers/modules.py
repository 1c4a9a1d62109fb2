"""Reads about the module catalog."""

from __future__ import annotations

from dataloaders.loaders import visible_modules
from models.enums import Catalog, Level
from models.rules import status
from models.tables import Module, Page
from resolvers.context import Context


async def modules(ctx: Context, catalog: Catalog | None, goals_only: bool) -> list[Module]:
    viewer = ctx.require_viewer()
    rows = await visible_modules(ctx.loaders, viewer.district_id)
    if catalog is not None:
        rows = [m for m in rows if m.catalog is catalog]
    if goals_only:
        goals = await goal_ids(ctx)
        rows = [m for m in rows if m.id in goals]
    return rows


async def goal_ids(ctx: Context) -> set[int]:
    viewer = ctx.require_viewer()
    rows = await ctx.loaders.goal_module_ids_by_district.load(viewer.district_id)
    return {r.module_id for r in rows}


async def pages(ctx: Context, module: Module) -> list[Page]:
    return await ctx.loaders.pages_by_module.load(module.id)


async def has_fluency(ctx: Context, module: Module) -> bool:
    rows = await pages(ctx, module)
    return status.has_level([status.PageInfo(p.id, p.level) for p in rows], Level.FLUENCY)


async def is_district_goal(ctx: Context, module: Module) -> bool:
    return module.id in await goal_ids(ctx)


async def page_module(ctx: Context, page: Page) -> Module:
    module = await ctx.loaders.module_by_id.load(page.module_id)
    assert module is not None  # a visible page's module is visible
    return module
