"""Polls: questions and rules, who may vote, the voter roll, secret tallies and open ballots.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 07:06:04.749320
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('poll',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('author_member_id', sa.Integer(), nullable=True),
    sa.Column('question', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('max_choices', sa.Integer(), nullable=False),
    sa.Column('secret', sa.Boolean(), nullable=False),
    sa.Column('voters', sa.Enum('officials', 'all', 'committee', name='pollvoters', native_enum=False, length=32), nullable=False),
    sa.Column('branches', sa.JSON(), nullable=True),
    sa.Column('rule', sa.Enum('majority_of_eligible', 'two_thirds_of_eligible', 'most_votes', 'custom', name='pollrule', native_enum=False, length=32), nullable=False),
    sa.Column('rule_numerator', sa.Integer(), nullable=False),
    sa.Column('rule_denominator', sa.Integer(), nullable=False),
    sa.Column('rule_base', sa.Enum('eligible', 'voted', name='pollbase', native_enum=False, length=32), nullable=False),
    sa.Column('show_running', sa.Boolean(), nullable=False),
    sa.Column('allow_change', sa.Boolean(), nullable=False),
    sa.Column('announce_results', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'open', 'closed', 'cancelled', name='pollstatus', native_enum=False, length=32), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_nudged_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('poll', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_poll_author_member_id'), ['author_member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_poll_deadline'), ['deadline'], unique=False)

    op.create_table('openballot',
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('option', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['poll_id'], ['poll.id'], ),
    sa.PrimaryKeyConstraint('poll_id', 'member_id', 'option')
    )
    op.create_table('polleligible',
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('exempt', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['poll_id'], ['poll.id'], ),
    sa.PrimaryKeyConstraint('poll_id', 'member_id')
    )
    op.create_table('polltally',
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('option', sa.Integer(), nullable=False),
    sa.Column('votes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['poll.id'], ),
    sa.PrimaryKeyConstraint('poll_id', 'option')
    )
    op.create_table('pollvoter',
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('entered_by_member_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['entered_by_member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['poll_id'], ['poll.id'], ),
    sa.PrimaryKeyConstraint('poll_id', 'member_id')
    )


def downgrade() -> None:
    op.drop_table('pollvoter')
    op.drop_table('polltally')
    op.drop_table('polleligible')
    op.drop_table('openballot')
    with op.batch_alter_table('poll', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_poll_deadline'))
        batch_op.drop_index(batch_op.f('ix_poll_author_member_id'))

    op.drop_table('poll')
