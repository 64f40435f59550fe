"""The branch's vote making a probationary member official, with the meeting that held it.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'promotionvote',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('meeting_id', sa.Integer(), nullable=True),
        sa.Column('decided_on', sa.Date(), nullable=False),
        sa.Column('votes_for', sa.Integer(), nullable=False),
        sa.Column('officials', sa.Integer(), nullable=False),
        sa.Column('author_member_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['author_member_id'], ['member.id']),
        sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id']),
        sa.ForeignKeyConstraint(['member_id'], ['member.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_promotionvote_member_id'), 'promotionvote', ['member_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_promotionvote_member_id'), table_name='promotionvote')
    op.drop_table('promotionvote')
