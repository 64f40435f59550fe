"""Web chat sessions issued by the server; wrong invite codes, for the lock-out.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webchatsession",
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("joined", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("webchatsession", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webchatsession_last_seen_at"), ["last_seen_at"], unique=False)
    # Chats linked before this revision keep working: their tokens become issued ones.
    op.execute(
        "INSERT INTO webchatsession (token_hash, created_at, last_seen_at, joined) "
        "SELECT platform_user_id, linked_at, CURRENT_TIMESTAMP, true FROM channelidentity WHERE platform = 'web'"
    )
    op.create_table(
        "inviteattempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("inviteattempt", schema=None) as batch_op:
        batch_op.create_index("ix_inviteattempt_scope_at", ["scope", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inviteattempt", schema=None) as batch_op:
        batch_op.drop_index("ix_inviteattempt_scope_at")
    op.drop_table("inviteattempt")
    with op.batch_alter_table("webchatsession", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webchatsession_last_seen_at"))
    op.drop_table("webchatsession")
