"""Initial schema: every table of models/tables.py.

Tables are created in the order of models/tables.py (which is also a valid foreign-key order),
so the two files can be read side by side. Constraint and index names are the ones the naming
convention in models/tables.py produces (`op.f` marks them as final).

Column types are written as plain SQLAlchemy types so this revision never imports the models:
- `UTCDateTime` is `sa.DateTime(timezone=True)` (TIMESTAMPTZ on PostgreSQL, DATETIME on SQLite);
  the UTC handling is Python-side only.
- enum columns are non-native, without a CHECK, so they are `sa.String(length=24)`: adding an
  enum value needs no migration.
- generated 64-bit ids are `BigInteger` on PostgreSQL (BIGSERIAL) but `Integer` on SQLite,
  where only `INTEGER PRIMARY KEY` is the auto-assigned rowid.

Revision ID: 0001
Revises:
Create Date: 2026-12-04 20:11:00.401483

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# models.tables.BigID, spelled out (see the docstring).
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ENUM = sa.String(length=24)
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "districts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_districts")),
        sa.UniqueConstraint("key", name=op.f("uq_districts_key")),
    )

    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_groups_district_id_districts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("district_id", "id", name=op.f("uq_groups_district_id_id")),
        sa.UniqueConstraint("key", name=op.f("uq_groups_key")),
    )
    op.create_index(op.f("ix_groups_district_id"), "groups", ["district_id"])

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("is_pl_manager", sa.Boolean(), nullable=False),
        sa.Column("is_users_manager", sa.Boolean(), nullable=False),
        sa.Column("dcf_access", sa.Boolean(), nullable=False),
        sa.Column("stats_inclusion", ENUM, nullable=False),
        sa.Column("first_login_at", TIMESTAMP, nullable=True),
        sa.Column("last_login_at", TIMESTAMP, nullable=True),
        sa.Column("share_certifications_in_feed", sa.Boolean(), nullable=False),
        sa.Column("show_micro_certifications", sa.Boolean(), nullable=False),
        sa.Column("show_personal_stats", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_users_district_id_districts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("district_id", "id", name=op.f("uq_users_district_id_id")),
        sa.UniqueConstraint("key", name=op.f("uq_users_key")),
    )
    op.create_index(op.f("ix_users_district_id"), "users", ["district_id"])

    op.create_table(
        "memberships",
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("role", ENUM, nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id", "user_id"],
            ["users.district_id", "users.id"],
            name=op.f("fk_memberships_district_id_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "group_id"],
            ["groups.district_id", "groups.id"],
            name=op.f("fk_memberships_district_id_group_id_groups"),
        ),
        sa.PrimaryKeyConstraint(
            "district_id", "user_id", "group_id", "role", name=op.f("pk_memberships")
        ),
    )
    op.create_index(
        op.f("ix_memberships_district_id_group_id_role"),
        "memberships",
        ["district_id", "group_id", "role"],
    )

    op.create_table(
        "modules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("catalog", ENUM, nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("pre_assessment_passing_score", sa.Float(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_modules_district_id_districts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_modules")),
        sa.UniqueConstraint("key", name=op.f("uq_modules_key")),
    )
    op.create_index(op.f("ix_modules_district_id"), "modules", ["district_id"])

    op.create_table(
        "pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("level", ENUM, nullable=False),
        sa.Column("requires_review", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["module_id"], ["modules.id"], name=op.f("fk_pages_module_id_modules")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pages")),
        sa.UniqueConstraint("key", name=op.f("uq_pages_key")),
    )
    op.create_index(op.f("ix_pages_module_id_position"), "pages", ["module_id", "position"])

    op.create_table(
        "district_goals",
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_district_goals_district_id_districts"),
        ),
        sa.ForeignKeyConstraint(
            ["module_id"], ["modules.id"], name=op.f("fk_district_goals_module_id_modules")
        ),
        sa.PrimaryKeyConstraint("district_id", "module_id", name=op.f("pk_district_goals")),
    )

    op.create_table(
        "page_progress",
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("state", ENUM, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("completed_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["district_id", "user_id"],
            ["users.district_id", "users.id"],
            name=op.f("fk_page_progress_district_id_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["page_id"], ["pages.id"], name=op.f("fk_page_progress_page_id_pages")
        ),
        sa.ForeignKeyConstraint(
            ["module_id"], ["modules.id"], name=op.f("fk_page_progress_module_id_modules")
        ),
        sa.PrimaryKeyConstraint("district_id", "user_id", "page_id", name=op.f("pk_page_progress")),
    )
    op.create_index(
        op.f("ix_page_progress_district_id_user_id_module_id"),
        "page_progress",
        ["district_id", "user_id", "module_id"],
    )

    op.create_table(
        "submissions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("submitted_at", TIMESTAMP, nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", TIMESTAMP, nullable=True),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["district_id", "user_id"],
            ["users.district_id", "users.id"],
            name=op.f("fk_submissions_district_id_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["page_id"], ["pages.id"], name=op.f("fk_submissions_page_id_pages")
        ),
        sa.ForeignKeyConstraint(
            ["module_id"], ["modules.id"], name=op.f("fk_submissions_module_id_modules")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["users.id"], name=op.f("fk_submissions_reviewed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
    )
    op.create_index(
        op.f("ix_submissions_district_id_status_submitted_at"),
        "submissions",
        ["district_id", "status", "submitted_at"],
    )
    op.create_index(
        op.f("ix_submissions_district_id_user_id_page_id"),
        "submissions",
        ["district_id", "user_id", "page_id"],
    )

    op.create_table(
        "pre_assessment_results",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("passing_score", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id", "user_id"],
            ["users.district_id", "users.id"],
            name=op.f("fk_pre_assessment_results_district_id_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["modules.id"],
            name=op.f("fk_pre_assessment_results_module_id_modules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pre_assessment_results")),
    )
    op.create_index(
        op.f("ix_pre_assessment_results_district_id_user_id_module_id"),
        "pre_assessment_results",
        ["district_id", "user_id", "module_id"],
    )

    op.create_table(
        "certifications",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("level", ENUM, nullable=False),
        sa.Column("earned_by", ENUM, nullable=False),
        sa.Column("earned_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id", "user_id"],
            ["users.district_id", "users.id"],
            name=op.f("fk_certifications_district_id_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["module_id"], ["modules.id"], name=op.f("fk_certifications_module_id_modules")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certifications")),
        # "Earned once" is a database guarantee.
        sa.UniqueConstraint(
            "district_id",
            "user_id",
            "module_id",
            "level",
            name=op.f("uq_certifications_district_id_user_id_module_id_level"),
        ),
    )

    op.create_table(
        "module_statuses",
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("level", ENUM, nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id", "user_id"],
            ["users.district_id", "users.id"],
            name=op.f("fk_module_statuses_district_id_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["module_id"], ["modules.id"], name=op.f("fk_module_statuses_module_id_modules")
        ),
        sa.PrimaryKeyConstraint(
            "district_id", "user_id", "module_id", "level", name=op.f("pk_module_statuses")
        ),
    )
    op.create_index(
        op.f("ix_module_statuses_district_id_module_id_level_status"),
        "module_statuses",
        ["district_id", "module_id", "level", "status"],
    )

    op.create_table(
        "feed_items",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        # Same type as the certifications.id it references.
        sa.Column("certification_id", BIG_ID, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("published_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["district_id", "user_id"],
            ["users.district_id", "users.id"],
            name=op.f("fk_feed_items_district_id_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["certification_id"],
            ["certifications.id"],
            name=op.f("fk_feed_items_certification_id_certifications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_items")),
        sa.UniqueConstraint("certification_id", name=op.f("uq_feed_items_certification_id")),
    )
    op.create_index(op.f("ix_feed_items_district_id_id"), "feed_items", ["district_id", "id"])
    op.create_index(op.f("ix_feed_items_published_at"), "feed_items", ["published_at"])


def downgrade() -> None:
    # Reverse foreign-key order; dropping a table drops its indexes with it.
    for table in (
        "feed_items",
        "module_statuses",
        "certifications",
        "pre_assessment_results",
        "submissions",
        "page_progress",
        "district_goals",
        "pages",
        "modules",
        "memberships",
        "users",
        "groups",
        "districts",
    ):
        op.drop_table(table)
