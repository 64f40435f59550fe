"""Deactivation kept on the member's record; the question a chat is waiting to have answered.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deactivated_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column(
            'deactivation_reason',
            sa.Enum('moved_away', 'died', 'expelled', 'other', name='deactivationreason', native_enum=False, length=32),
            nullable=True,
        ))
    with op.batch_alter_table('channelidentity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('awaiting', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('awaiting_since', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('channelidentity', schema=None) as batch_op:
        batch_op.drop_column('awaiting_since')
        batch_op.drop_column('awaiting')
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_column('deactivation_reason')
        batch_op.drop_column('deactivated_on')
