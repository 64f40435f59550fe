"""Party dues: a member's dues category and base, and the months paid (models/dues.py).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs, also on SQLite: a batch would copy the member table, which foreign keys refuse.
    op.add_column(
        "member",
        sa.Column(
            "dues_category",
            sa.Enum(
                "salary",
                "pension",
                "other",
                "elderly",
                "student",
                "exempt",
                name="duescategory",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
    )
    op.add_column("member", sa.Column("dues_base", sa.Integer(), nullable=True))
    op.create_table(
        "duespayment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("recorded_by_member_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.ForeignKeyConstraint(["recorded_by_member_id"], ["member.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member_id", "month"),
    )
    op.create_index(op.f("ix_duespayment_branch_id"), "duespayment", ["branch_id"], unique=False)
    op.create_index(op.f("ix_duespayment_member_id"), "duespayment", ["member_id"], unique=False)
    op.create_index(op.f("ix_duespayment_paid_on"), "duespayment", ["paid_on"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_duespayment_paid_on"), table_name="duespayment")
    op.drop_index(op.f("ix_duespayment_member_id"), table_name="duespayment")
    op.drop_index(op.f("ix_duespayment_branch_id"), table_name="duespayment")
    op.drop_table("duespayment")
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("dues_base")
        batch_op.drop_column("dues_category")
