"""Feed positions per district.

Each feed item gets `seq`, its position in its district's feed, handed out by
`feed_sequences` under a row lock held until commit, so positions become visible in order
and clients can resume from a position with no gap. Existing items are numbered in id order.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_sequences",
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_feed_sequences_district_id_districts")
        ),
        sa.PrimaryKeyConstraint("district_id", name=op.f("pk_feed_sequences")),
    )
    with op.batch_alter_table("feed_items") as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE feed_items SET seq = (SELECT COUNT(*) FROM feed_items AS earlier "
        "WHERE earlier.district_id = feed_items.district_id AND earlier.id <= feed_items.id)"
    )
    op.execute(
        "INSERT INTO feed_sequences (district_id, last_seq) "
        "SELECT district_id, MAX(seq) FROM feed_items GROUP BY district_id"
    )
    with op.batch_alter_table("feed_items") as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_index(op.f("ix_feed_items_district_id_id"))
        batch_op.create_unique_constraint(
            op.f("uq_feed_items_district_id_seq"), ["district_id", "seq"]
        )


def downgrade() -> None:
    with op.batch_alter_table("feed_items") as batch_op:
        batch_op.drop_constraint(op.f("uq_feed_items_district_id_seq"), type_="unique")
        batch_op.create_index(op.f("ix_feed_items_district_id_id"), ["district_id", "id"])
        batch_op.drop_column("seq")
    op.drop_table("feed_sequences")
