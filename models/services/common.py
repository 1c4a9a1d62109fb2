"""Lookups shared by the write services: district scoping and row locks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from models.enums import MembershipRole
from models.errors import NotFound
from models.tables import Membership, Module, Page, User


def upsert_insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that supports ON CONFLICT for the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def visible_to(district_id: int) -> Any:
    """Modules a district can see: the vendor catalog and its own."""
    return or_(Module.district_id.is_(None), Module.district_id == district_id)


async def lock_user(session: AsyncSession, district_id: int, user_id: int) -> User:
    """Load a user of the district and lock the row for the rest of the transaction.

    Every progress write for a learner takes this lock first, so two requests racing on a
    learner's last pages are serialized and the second sees the first's committed pages:
    without it, each could see only its own page complete and nobody would earn the
    certification. (SQLite serializes writers with BEGIN IMMEDIATE instead.)
    """
    user = (
        await session.execute(
            select(User)
            .where(User.id == user_id, User.district_id == district_id)
            .with_for_update()
            # Re-read even if this session already holds the row: the lock is the point.
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if user is None:
        raise NotFound("No user with that ID exists.")
    return user


async def get_user(session: AsyncSession, district_id: int, user_id: int) -> User:
    user = (
        await session.execute(
            select(User).where(User.id == user_id, User.district_id == district_id)
        )
    ).scalar_one_or_none()
    if user is None:
        raise NotFound("No user with that ID exists.")
    return user


async def get_visible_page(session: AsyncSession, district_id: int, page_id: int) -> Page:
    page = (
        await session.execute(
            select(Page)
            .join(Module, Module.id == Page.module_id)
            .where(Page.id == page_id, visible_to(district_id))
        )
    ).scalar_one_or_none()
    if page is None:
        raise NotFound("No page with that ID exists.")
    return page


async def get_visible_module(session: AsyncSession, district_id: int, module_id: int) -> Module:
    module = (
        await session.execute(select(Module).where(Module.id == module_id, visible_to(district_id)))
    ).scalar_one_or_none()
    if module is None:
        raise NotFound("No module with that ID exists.")
    return module


async def group_ids(
    session: AsyncSession, district_id: int, user_id: int, role: MembershipRole
) -> set[int]:
    rows = await session.execute(
        select(Membership.group_id).where(
            Membership.district_id == district_id,
            Membership.user_id == user_id,
            Membership.role == role,
        )
    )
    return set(rows.scalars())
