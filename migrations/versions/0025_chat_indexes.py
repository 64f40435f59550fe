"""Indexes for finding a chat's rows: its member's language as a batch is claimed, its waiting
messages held after a 429, its link marked unreachable. Without them each of these read the
whole table: 60 ms for every 200 messages of a 20,000-member broadcast.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 12:30:00
"""

import contextlib
from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # On PostgreSQL built CONCURRENTLY (outside a transaction): a commune's outbox holds a row for
    # every message ever sent, and a plain build would hold off every write meanwhile (a replica
    # still serving during an upgrade). IF NOT EXISTS: a build that ended before its revision was
    # recorded is not tried again.
    concurrently = op.get_bind().dialect.name == "postgresql"
    with op.get_context().autocommit_block() if concurrently else contextlib.nullcontext():
        for name, table in (("ix_channelidentity_chat", "channelidentity"), ("ix_outbox_chat", "outboxmessage")):
            op.create_index(
                name, table, ["platform", "chat_id"], postgresql_concurrently=concurrently, if_not_exists=True
            )


def downgrade() -> None:
    op.drop_index("ix_outbox_chat", table_name="outboxmessage")
    op.drop_index("ix_channelidentity_chat", table_name="channelidentity")
