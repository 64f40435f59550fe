"""Meetings, invitations, attendance and their timed jobs (reminders); each branch's quorum rule.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 08:56:10.297519
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('author_member_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('regular', 'thematic', 'committee', 'other', name='meetingkind', native_enum=False, length=32), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('link', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('agenda', sa.JSON(), nullable=False),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'called', 'cancelled', name='meetingstatus', native_enum=False, length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('called_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminder_minutes', sa.JSON(), nullable=False),
    sa.Column('repeat_day', sa.Integer(), nullable=True),
    sa.Column('series_id', sa.Integer(), nullable=True),
    sa.Column('quorum_numerator', sa.Integer(), nullable=False),
    sa.Column('quorum_denominator', sa.Integer(), nullable=False),
    sa.Column('minutes_text', sa.Text(), nullable=True),
    sa.Column('conclusions', sa.Text(), nullable=True),
    sa.Column('attendance_closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_branch_id'), ['branch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meeting_series_id'), ['series_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meeting_starts_at'), ['starts_at'], unique=False)

    op.create_table('meetingfile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('is_photo', sa.Boolean(), nullable=False),
    sa.Column('is_minutes', sa.Boolean(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('meetingfile', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meetingfile_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('meetinginvitation',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('exempt', sa.Boolean(), nullable=False),
    sa.Column('invited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rsvp', sa.Enum('attending', 'excused', name='rsvp', native_enum=False, length=32), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('rsvp_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attendance', sa.Enum('present', 'excused', 'absent', name='attendance', native_enum=False, length=32), nullable=True),
    sa.Column('marked_by_member_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['marked_by_member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('meeting_id', 'member_id')
    )
    op.create_table('meetingjob',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('reminder', 'start_summary', 'close_attendance', 'next_meeting', name='meetingjobkind', native_enum=False, length=32), nullable=False),
    sa.Column('minutes_before', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.Enum('pending', 'done', 'skipped', 'cancelled', name='jobstate', native_enum=False, length=32), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('meetingjob', schema=None) as batch_op:
        batch_op.create_index('ix_meetingjob_due', ['state', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_meetingjob_meeting_id'), ['meeting_id'], unique=False)

    with op.batch_alter_table('branch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('meeting_quorum_numerator', sa.Integer(), nullable=False, server_default='2'))
        batch_op.add_column(sa.Column('meeting_quorum_denominator', sa.Integer(), nullable=False, server_default='3'))



def downgrade() -> None:
    with op.batch_alter_table('branch', schema=None) as batch_op:
        batch_op.drop_column('meeting_quorum_denominator')
        batch_op.drop_column('meeting_quorum_numerator')

    with op.batch_alter_table('meetingjob', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meetingjob_meeting_id'))
        batch_op.drop_index('ix_meetingjob_due')

    op.drop_table('meetingjob')
    op.drop_table('meetinginvitation')
    with op.batch_alter_table('meetingfile', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meetingfile_meeting_id'))

    op.drop_table('meetingfile')
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_starts_at'))
        batch_op.drop_index(batch_op.f('ix_meeting_series_id'))
        batch_op.drop_index(batch_op.f('ix_meeting_branch_id'))

    op.drop_table('meeting')
