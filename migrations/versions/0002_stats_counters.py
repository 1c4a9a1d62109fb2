"""Comparison Stats counters, stats inclusion history, and a by-name index on users.

Counters per (district, scope, level, module) are kept in the same transaction as every
change that moves them; scope_id 0 is the district, any other value a group's id. Existing
data is counted by `microcred stats verify --repair` (a fresh database has nothing to count).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "stats_populations",
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("counted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("district_id", "scope_id", name=op.f("pk_stats_populations")),
    )
    op.create_table(
        "stats_counts",
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=24), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("in_progress", sa.Integer(), nullable=False),
        sa.Column("complete", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "district_id", "scope_id", "level", "module_id", name=op.f("pk_stats_counts")
        ),
    )
    op.create_table(
        "stats_inclusion_changes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("from_inclusion", sa.String(length=24), nullable=False),
        sa.Column("to_inclusion", sa.String(length=24), nullable=False),
        sa.Column("changed_by", sa.String(length=220), nullable=False),
        sa.Column("changed_by_user_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_user_id"],
            ["users.id"],
            name=op.f("fk_stats_inclusion_changes_changed_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id", "user_id"],
            ["users.district_id", "users.id"],
            name=op.f("fk_stats_inclusion_changes_district_id_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_inclusion_changes")),
    )
    op.create_index(
        op.f("ix_stats_inclusion_changes_district_id_user_id_id"),
        "stats_inclusion_changes",
        ["district_id", "user_id", "id"],
    )
    op.create_index(op.f("ix_users_district_id_name_id"), "users", ["district_id", "name", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_users_district_id_name_id"), table_name="users")
    op.drop_table("stats_inclusion_changes")
    op.drop_table("stats_counts")
    op.drop_table("stats_populations")
