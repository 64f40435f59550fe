"""Platform receipts: the Zalo OA's message id per sent outbox row, delivered and seen on a notice's
recipients, and when a message went as a ZNS template message.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outboxmessage") as batch:
        batch.add_column(sa.Column("platform_message_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch.add_column(sa.Column("template_sent_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_outboxmessage_platform_message_id", ["platform_message_id"])
    with op.batch_alter_table("noticerecipient") as batch:
        batch.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("noticerecipient") as batch:
        batch.drop_column("seen_at")
        batch.drop_column("delivered_at")
    with op.batch_alter_table("outboxmessage") as batch:
        batch.drop_index("ix_outboxmessage_platform_message_id")
        batch.drop_column("template_sent_at")
        batch.drop_column("platform_message_id")
