"""Secret ballots sealed to a key of the poll: the ballot box (salt, public key) and the sealed ballots.

The per-vote counts of secret polls (polltally, updated in the vote's transaction) linked every
voter to a choice through PostgreSQL's transaction ids and old row versions; polltally now holds
only the counts written at the close. A secret poll still open at this upgrade keeps the counts it
has and gets a sealed box at its next ballot (models/ballots.py).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 09:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ballotbox',
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('salt', sa.LargeBinary(), nullable=True),
    sa.Column('public_key', sa.LargeBinary(), nullable=True),
    sa.Column('paper_counted', sa.Integer(), nullable=False),
    sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['poll_id'], ['poll.id'], ),
    sa.PrimaryKeyConstraint('poll_id')
    )
    op.create_table('sealedballot',
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['poll.id'], ),
    sa.PrimaryKeyConstraint('poll_id', 'sealed')
    )


def downgrade() -> None:
    op.drop_table('sealedballot')
    op.drop_table('ballotbox')
