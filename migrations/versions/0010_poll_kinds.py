"""Polls say what kind of question they are (motion, choice, election, consultation), may be taken at
a meeting, and keep how many members were left out of the base; a member's standing (active,
suspended, temporarily active elsewhere).

Existing polls: the preset options (a resolution) make a motion, typed options a choice, and a
"most votes" rule (plurality exists only for consultations) a consultation.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 09:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PRESET = ['Đồng ý', 'Không đồng ý', 'Ý kiến khác']


def upgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('standing', sa.Enum('active', 'suspended', 'elsewhere', name='memberstanding', native_enum=False, length=32), nullable=False, server_default='active'))
    with op.batch_alter_table('poll', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.Enum('motion', 'choice', 'election', 'consultation', name='pollkind', native_enum=False, length=32), nullable=False, server_default='choice'))
        batch_op.add_column(sa.Column('meeting_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('suspended_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('elsewhere_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_foreign_key('fk_poll_meeting_id_meeting', 'meeting', ['meeting_id'], ['id'])
    poll = sa.table('poll', sa.column('id', sa.Integer()), sa.column('options', sa.JSON()), sa.column('rule', sa.String()), sa.column('kind', sa.String()))
    connection = op.get_bind()
    for poll_id, options, rule in connection.execute(sa.select(poll.c.id, poll.c.options, poll.c.rule)).all():
        kind = 'consultation' if rule == 'most_votes' else 'motion' if list(options) == _PRESET else 'choice'
        connection.execute(poll.update().where(poll.c.id == poll_id).values(kind=kind))
    with op.batch_alter_table('poll', schema=None) as batch_op:
        batch_op.alter_column('kind', server_default=None)
        batch_op.alter_column('suspended_count', server_default=None)
        batch_op.alter_column('elsewhere_count', server_default=None)
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.alter_column('standing', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('poll', schema=None) as batch_op:
        batch_op.drop_constraint('fk_poll_meeting_id_meeting', type_='foreignkey')
        batch_op.drop_column('elsewhere_count')
        batch_op.drop_column('suspended_count')
        batch_op.drop_column('meeting_id')
        batch_op.drop_column('kind')
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_column('standing')
