"""Reading the news feed from the database: the one source of truth for queries, replays and
live pushes alike. Opt-out is applied here, at read time: items of a user who does not share
now are left out, and come back when they share again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.enums import EarnedBy, FeedItemKind, Level
from models.tables import Certification, FeedItem, User


@dataclass(frozen=True, slots=True)
class FeedEntry:
    id: int
    district_id: int
    seq: int
    kind: FeedItemKind
    created_at: datetime
    user_id: int
    user_key: str
    user_name: str
    module_id: int
    level: Level
    earned_by: EarnedBy
    earned_at: datetime


def _visible(district_id: int) -> Select:
    return (
        select(
            FeedItem.id,
            FeedItem.district_id,
            FeedItem.seq,
            FeedItem.kind,
            FeedItem.created_at,
            User.id.label("user_id"),
            User.key.label("user_key"),
            User.name.label("user_name"),
            Certification.module_id,
            Certification.level,
            Certification.earned_by,
            Certification.earned_at,
        )
        .join(User, (User.district_id == FeedItem.district_id) & (User.id == FeedItem.user_id))
        .join(Certification, Certification.id == FeedItem.certification_id)
        .where(FeedItem.district_id == district_id, User.share_certifications_in_feed.is_(True))
    )


def _entries(rows: list) -> list[FeedEntry]:
    return [FeedEntry(**row._mapping) for row in rows]


async def newest(
    session: AsyncSession, district_id: int, before_seq: int | None, limit: int
) -> list[FeedEntry]:
    """Visible items, newest first, strictly before a position."""
    query = _visible(district_id).order_by(FeedItem.seq.desc()).limit(limit)
    if before_seq is not None:
        query = query.where(FeedItem.seq < before_seq)
    return _entries((await session.execute(query)).all())


async def after(
    session: AsyncSession, district_id: int, after_seq: int, limit: int
) -> list[FeedEntry]:
    """Visible items strictly after a position, oldest first (replays and live pushes)."""
    query = (
        _visible(district_id).where(FeedItem.seq > after_seq).order_by(FeedItem.seq).limit(limit)
    )
    return _entries((await session.execute(query)).all())


async def visible_count(session: AsyncSession, district_id: int) -> int:
    return (
        await session.execute(select(func.count()).select_from(_visible(district_id).subquery()))
    ).scalar_one()


async def last_position(session: AsyncSession, district_id: int) -> int:
    """The district's latest committed feed position (0 before the first item)."""
    value = await session.execute(
        select(func.max(FeedItem.seq)).where(FeedItem.district_id == district_id)
    )
    return value.scalar_one() or 0


async def entry_by_id(session: AsyncSession, district_id: int, item_id: int) -> FeedEntry | None:
    rows = (await session.execute(_visible(district_id).where(FeedItem.id == item_id))).all()
    return _entries(rows)[0] if rows else None
