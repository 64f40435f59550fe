"""The web chat's messages, kept for the page to fetch: what chibo answered and what it sent.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 15:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('webchatmessage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('pushed', sa.Boolean(), nullable=False),
    sa.Column('answers', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_webchatmessage_chat', 'webchatmessage', ['chat_id', 'id'], unique=False)
    op.create_index(op.f('ix_webchatmessage_created_at'), 'webchatmessage', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_webchatmessage_created_at'), table_name='webchatmessage')
    op.drop_index('ix_webchatmessage_chat', table_name='webchatmessage')
    op.drop_table('webchatmessage')
