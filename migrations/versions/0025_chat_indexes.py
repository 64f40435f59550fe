"""Indexes for finding a chat's rows: its member's language as a batch is claimed, its waiting
messages held after a 429, its link marked unreachable. Without them each of these read the
whole table: 60 ms for every 200 messages of a 20,000-member broadcast.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 12:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_channelidentity_chat", "channelidentity", ["platform", "chat_id"])
    op.create_index("ix_outbox_chat", "outboxmessage", ["platform", "chat_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_chat", table_name="outboxmessage")
    op.drop_index("ix_channelidentity_chat", table_name="channelidentity")
