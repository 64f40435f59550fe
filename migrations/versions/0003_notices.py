"""Notices (announcements), their recipients and read receipts; outbox rows tied to a notice.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 06:25:53.611611
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('author_member_id', sa.Integer(), nullable=True),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=10000), nullable=False),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'scheduled', 'sent', 'cancelled', name='noticestatus', native_enum=False, length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_nudged_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_author_member_id'), ['author_member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notice_scheduled_at'), ['scheduled_at'], unique=False)

    op.create_table('noticerecipient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['notice_id'], ['notice.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('notice_id', 'member_id')
    )
    with op.batch_alter_table('noticerecipient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_noticerecipient_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_noticerecipient_notice_id'), ['notice_id'], unique=False)

    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notice_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('member_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outboxmessage_notice_id'), ['notice_id'], unique=False)
        batch_op.create_foreign_key('fk_outboxmessage_member_id', 'member', ['member_id'], ['id'])
        batch_op.create_foreign_key('fk_outboxmessage_notice_id', 'notice', ['notice_id'], ['id'])




def downgrade() -> None:
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.drop_constraint('fk_outboxmessage_notice_id', type_='foreignkey')
        batch_op.drop_constraint('fk_outboxmessage_member_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outboxmessage_notice_id'))
        batch_op.drop_column('member_id')
        batch_op.drop_column('notice_id')

    with op.batch_alter_table('noticerecipient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_noticerecipient_notice_id'))
        batch_op.drop_index(batch_op.f('ix_noticerecipient_member_id'))

    op.drop_table('noticerecipient')
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_scheduled_at'))
        batch_op.drop_index(batch_op.f('ix_notice_author_member_id'))

    op.drop_table('notice')

