"""The files each member sent chibo to read, per day, for the daily cap (CHIBO_UPLOADS_PER_DAY);
the outbox's count of a message's calls already made (a retry resumes after them).

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "uploadcount",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member_id", "day"),
    )
    # A plain ADD COLUMN, also on SQLite: a batch would copy the table, which its foreign keys refuse.
    op.add_column("outboxmessage", sa.Column("parts_sent", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.drop_column("parts_sent")
    op.drop_table("uploadcount")
