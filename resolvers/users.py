"""Reads about users: the viewer, badges, certifications, memberships."""

from __future__ import annotations

from dataclasses import dataclass

from dataloaders.loaders import visible_modules
from models.enums import CertificationStatus, Level, MembershipRole
from models.errors import Forbidden, NotFound
from models.rules import permissions, status
from models.rules.permissions import UserViewer
from models.tables import Certification, Group, Module, StatsInclusionChange, User
from resolvers.context import Context


@dataclass(frozen=True, slots=True)
class BadgeData:
    module: Module
    literacy: CertificationStatus
    fluency: CertificationStatus | None


@dataclass(frozen=True, slots=True)
class MembershipData:
    group: Group
    role: MembershipRole


async def me(ctx: Context) -> User:
    viewer = ctx.require_viewer()
    if not isinstance(viewer, UserViewer):
        raise Forbidden("An integration token has no user: `me` needs a user's token.")
    user = await ctx.loaders.user_by_id.load(viewer.user_id)
    if user is None:  # deleted between authentication and now
        raise NotFound("Your user no longer exists.")
    return user


async def ensure_can_view_progress(ctx: Context, user: User) -> None:
    viewer = ctx.require_viewer()
    if isinstance(viewer, UserViewer) and viewer.user_id == user.id:
        return
    manages = False
    if isinstance(viewer, UserViewer) and not viewer.is_pl_manager:
        mine, theirs = await ctx.loaders.memberships_by_user.load_many([viewer.user_id, user.id])
        managed = {m.group_id for m in mine if m.role is MembershipRole.MANAGER}
        manages = any(m.group_id in managed for m in theirs if m.role is MembershipRole.MEMBER)
    if not permissions.can_view_user_progress(
        viewer, target_user_id=user.id, manages_a_group_of_target=manages
    ):
        raise Forbidden(
            "Only the user, district PL managers and managers of the user's schools or "
            "cohorts can see this user's progress."
        )


def ensure_can_view_roster_flags(ctx: Context, user: User) -> None:
    if not permissions.can_view_roster_flags(ctx.require_viewer(), target_user_id=user.id):
        raise Forbidden(
            "Only the user and district PL or users managers can see this user's DCF access "
            "and stats inclusion."
        )


def fluency_badge(
    has_fluency: bool, stored: CertificationStatus | None
) -> CertificationStatus | None:
    """Fluency shows only where the module has that level (or it was already earned)."""
    if has_fluency:
        return stored or CertificationStatus.NOT_STARTED
    return stored if stored is CertificationStatus.COMPLETE else None


async def badges(ctx: Context, user: User) -> list[BadgeData]:
    await ensure_can_view_progress(ctx, user)
    modules = await visible_modules(ctx.loaders, user.district_id)
    statuses = {
        (s.module_id, s.level): s.status for s in await ctx.loaders.statuses_by_user.load(user.id)
    }
    page_lists = await ctx.loaders.pages_by_module.load_many([m.id for m in modules])
    result = []
    for module, pages in zip(modules, page_lists, strict=True):
        infos = [status.PageInfo(p.id, p.level) for p in pages]
        result.append(
            BadgeData(
                module=module,
                literacy=statuses.get((module.id, Level.LITERACY), CertificationStatus.NOT_STARTED),
                fluency=fluency_badge(
                    status.has_level(infos, Level.FLUENCY),
                    statuses.get((module.id, Level.FLUENCY)),
                ),
            )
        )
    return result


async def certifications(ctx: Context, user: User) -> list[Certification]:
    await ensure_can_view_progress(ctx, user)
    return await ctx.loaders.certifications_by_user.load(user.id)


async def memberships(ctx: Context, user: User) -> list[MembershipData]:
    await ensure_can_view_progress(ctx, user)
    rows = await ctx.loaders.memberships_by_user.load(user.id)
    groups = await ctx.loaders.group_by_id.load_many([m.group_id for m in rows])
    return [
        MembershipData(group=g, role=m.role)
        for m, g in zip(rows, groups, strict=True)
        if g is not None
    ]


async def preferences(ctx: Context, user: User) -> User:
    viewer = ctx.require_viewer()
    if not (isinstance(viewer, UserViewer) and viewer.user_id == user.id):
        raise Forbidden("Dashboard preferences are visible only to their owner.")
    return user


async def user_module(ctx: Context, module_id: int) -> Module:
    """A module the viewer's district can see. Read through the district's module list (one
    cached statement) so that however many certifications or badges ask, and in whatever
    order they resolve, the modules cost one read."""
    viewer = ctx.require_viewer()
    for module in await visible_modules(ctx.loaders, viewer.district_id):
        if module.id == module_id:
            return module
    raise NotFound("No module with that ID exists.")


async def inclusion_history(ctx: Context, user: User) -> list[StatsInclusionChange]:
    """Who changed the user's stats inclusion, when, from what, to what, and why."""
    if not permissions.can_change_stats_inclusion(ctx.require_viewer()):
        raise Forbidden(
            "Only district PL managers, users managers and integrations with roster:write can "
            "read stats inclusion history."
        )
    return await ctx.loaders.inclusion_changes_by_user.load(user.id)
