"""SQLAlchemy 2 mappings.

Every tenant table carries `district_id`, and the natural keys of tenant rows lead with it,
so the data can later be distributed by district. Vendor-catalog modules and their pages
have no district (`district_id` is NULL). Relationships are `lazy="raise"`: all loading is
explicit, batched by the dataloaders.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from models.enums import (
    Catalog,
    CertificationStatus,
    EarnedBy,
    FeedItemKind,
    GroupKind,
    Level,
    MembershipRole,
    PageState,
    StatsInclusion,
    SubmissionStatus,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite has no 64-bit autoincrement type name of its own; INTEGER PRIMARY KEY is the rowid.
BigID = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware (SQLite drops tz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; microcred stores aware UTC timestamps")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column(enum: type[StrEnum]) -> SAEnum:
    # Stored as VARCHAR on both backends: adding a value never needs an ALTER TYPE.
    return SAEnum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=24,
        values_callable=lambda e: [m.value for m in e],
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class District(Base):
    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Group(Base):
    """A school or a cohort: both are groups of users inside one district."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("district_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    kind: Mapped[GroupKind] = mapped_column(enum_column(GroupKind))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(300))


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("district_id", "id"),
        # Individual User Results list a district's users by name.
        Index(None, "district_id", "name", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    is_pl_manager: Mapped[bool] = mapped_column(Boolean, default=False)
    is_users_manager: Mapped[bool] = mapped_column(Boolean, default=False)
    dcf_access: Mapped[bool] = mapped_column(Boolean, default=False)
    stats_inclusion: Mapped[StatsInclusion] = mapped_column(
        enum_column(StatsInclusion), default=StatsInclusion.DEFAULT
    )
    first_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    share_certifications_in_feed: Mapped[bool] = mapped_column(Boolean, default=True)
    show_micro_certifications: Mapped[bool] = mapped_column(Boolean, default=True)
    show_personal_stats: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        ForeignKeyConstraint(["district_id", "user_id"], ["users.district_id", "users.id"]),
        ForeignKeyConstraint(["district_id", "group_id"], ["groups.district_id", "groups.id"]),
        Index(None, "district_id", "group_id", "role"),
    )

    district_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[MembershipRole] = mapped_column(enum_column(MembershipRole), primary_key=True)


class Module(Base):
    __tablename__ = "modules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    catalog: Mapped[Catalog] = mapped_column(enum_column(Catalog))
    # NULL for the vendor catalog, the owning district for a DISTRICT module.
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("districts.id"), nullable=True, index=True
    )
    pre_assessment_passing_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Page(Base):
    __tablename__ = "pages"
    __table_args__ = (Index(None, "module_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id"))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    level: Mapped[Level] = mapped_column(enum_column(Level))
    requires_review: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer)


class DistrictGoal(Base):
    __tablename__ = "district_goals"

    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id"), primary_key=True)


class PageProgress(Base):
    __tablename__ = "page_progress"
    __table_args__ = (
        ForeignKeyConstraint(["district_id", "user_id"], ["users.district_id", "users.id"]),
        Index(None, "district_id", "user_id", "module_id"),
    )

    district_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), primary_key=True)
    # Denormalized from the page so a module's progress is one indexed read.
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id"))
    state: Mapped[PageState] = mapped_column(enum_column(PageState))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Submission(Base):
    """One submission of a review page; a resubmission after a return is a new row."""

    __tablename__ = "submissions"
    __table_args__ = (
        ForeignKeyConstraint(["district_id", "user_id"], ["users.district_id", "users.id"]),
        Index(None, "district_id", "status", "submitted_at"),
        Index(None, "district_id", "user_id", "page_id"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    district_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"))
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[SubmissionStatus] = mapped_column(
        enum_column(SubmissionStatus), default=SubmissionStatus.PENDING
    )
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    feedback: Mapped[str | None] = mapped_column(Text, nullable=True)


class PreAssessmentResult(Base):
    __tablename__ = "pre_assessment_results"
    __table_args__ = (
        ForeignKeyConstraint(["district_id", "user_id"], ["users.district_id", "users.id"]),
        Index(None, "district_id", "user_id", "module_id"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    district_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id"))
    score: Mapped[float] = mapped_column(Float)
    passing_score: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Certification(Base):
    __tablename__ = "certifications"
    __table_args__ = (
        ForeignKeyConstraint(["district_id", "user_id"], ["users.district_id", "users.id"]),
        # "Earned once" is a database guarantee, not only a check in code.
        UniqueConstraint("district_id", "user_id", "module_id", "level"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    district_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id"))
    level: Mapped[Level] = mapped_column(enum_column(Level))
    earned_by: Mapped[EarnedBy] = mapped_column(enum_column(EarnedBy))
    earned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModuleStatus(Base):
    """Current status per (user, module, level); no row means NOT_STARTED."""

    __tablename__ = "module_statuses"
    __table_args__ = (
        ForeignKeyConstraint(["district_id", "user_id"], ["users.district_id", "users.id"]),
        Index(None, "district_id", "module_id", "level", "status"),
    )

    district_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id"), primary_key=True)
    level: Mapped[Level] = mapped_column(enum_column(Level), primary_key=True)
    status: Mapped[CertificationStatus] = mapped_column(enum_column(CertificationStatus))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeedSequence(Base):
    """The last feed position handed out per district.

    Taking the next position locks this row until commit, so positions become visible in
    order: whoever sees position n also sees every earlier one. Readers and live subscribers
    can therefore catch up from the database by position without gaps.
    """

    __tablename__ = "feed_sequences"

    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class FeedItem(Base):
    """A news-feed item; also the outbox row that the relay publishes (published_at)."""

    __tablename__ = "feed_items"
    __table_args__ = (
        ForeignKeyConstraint(["district_id", "user_id"], ["users.district_id", "users.id"]),
        UniqueConstraint("district_id", "seq"),
        Index(None, "published_at"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    district_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[FeedItemKind] = mapped_column(enum_column(FeedItemKind))
    certification_id: Mapped[int] = mapped_column(ForeignKey("certifications.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The item's position in its district's feed (1, 2, 3...): the cursor clients resume from.
    seq: Mapped[int] = mapped_column(BigInteger)


# Comparison Stats counters. A scope is the district (scope_id 0) or a group (its id). They are
# maintained in the same transaction as every change that moves them, so reading stats never
# scans the district; `microcred stats verify` recomputes them from the raw tables.


class StatsPopulation(Base):
    """How many counted users a scope has (its members, for a group)."""

    __tablename__ = "stats_populations"

    district_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counted: Mapped[int] = mapped_column(Integer, default=0)


class StatsCount(Base):
    """How many counted users of a scope are IN_PROGRESS / COMPLETE on a (module, level);
    NOT_STARTED is the population minus both."""

    __tablename__ = "stats_counts"

    district_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[Level] = mapped_column(enum_column(Level), primary_key=True)
    module_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    in_progress: Mapped[int] = mapped_column(Integer, default=0)
    complete: Mapped[int] = mapped_column(Integer, default=0)


class StatsInclusionChange(Base):
    """Every change of a user's stats inclusion: who, when, from what, to what, and why."""

    __tablename__ = "stats_inclusion_changes"
    __table_args__ = (
        ForeignKeyConstraint(["district_id", "user_id"], ["users.district_id", "users.id"]),
        Index(None, "district_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    district_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer)
    from_inclusion: Mapped[StatsInclusion] = mapped_column(enum_column(StatsInclusion))
    to_inclusion: Mapped[StatsInclusion] = mapped_column(enum_column(StatsInclusion))
    # A user key, or "integration:<name>", or "import" for a roster file.
    changed_by: Mapped[str] = mapped_column(String(220))
    changed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
