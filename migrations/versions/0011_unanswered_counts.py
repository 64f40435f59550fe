"""The buttons last shown in each chat, so typed answers can be read as taps; unanswered questions
counted per branch and week (counts only, no text).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 09:15:24.040547
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('unansweredweek',
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('week', sa.Date(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], ),
    sa.PrimaryKeyConstraint('branch_id', 'week')
    )
    with op.batch_alter_table('channelidentity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('choices', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('choices_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('channelidentity', schema=None) as batch_op:
        batch_op.drop_column('choices_at')
        batch_op.drop_column('choices')
    op.drop_table('unansweredweek')
